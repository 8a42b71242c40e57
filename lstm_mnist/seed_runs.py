"""A config's seeds, run and kept as logs, and the band file made of them: what make_band.py
does, here or on a Ray cluster (runner.py).

    band, logs = make_band(BandPlan(cfg, train_args, seeds, out, runs_dir, command), parallel=2)

Each seed's log is kept as runs_dir/seed_<N>.log as soon as it finishes, so the same command
after an interruption runs only the seeds not done; a runs_dir holds the seeds of one config.
"""
import contextlib
import dataclasses
import datetime
import glob
import json
import os
import re
import shlex
import sys

from lstm_mnist import ROOT, atomic, bands, published, runner, tutorial_log


class SeedError(Exception):
    """Seeds can't be run or kept here; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class BandPlan:
    """A band to make: the config (a dict) and train_rnn.py's arguments that give it, the seeds,
    the band file, the folder of the seeds' logs, and the command that made it."""
    cfg: dict
    train_args: list
    seeds: list
    out: str
    runs_dir: str
    command: str

    def log_path(self, seed):
        return os.path.join(self.runs_dir, f"seed_{seed}.log")

    def todo(self):
        return [s for s in self.seeds if not os.path.exists(self.log_path(s))]


def make_band(plan, parallel, ray=None):
    """Run the plan's seeds not done yet, then write the band of all of them to plan.out.

    Returns:
        (the band, the seeds' tutorial_log.Logs)
    Raises:
        SeedError: the runs_dir can't be used; LogError or RuntimeError: a seed failed (the
        finished ones are kept).
    """
    try:
        os.makedirs(plan.runs_dir, exist_ok=True)
    except OSError as e:
        raise SeedError(f"cannot create {plan.runs_dir} ({e.strerror}); give a writable "
                        "--runs_dir") from None
    check_runs_dir(plan)
    todo = plan.todo()
    edition = bands.edition_of(plan.cfg)
    differs = ", ".join(bands.differences(plan.cfg, published.PUBLISHED)) or \
        "the tutorial's config"
    print(f"# band of {f'edition {edition}: ' if edition else ''}{differs}: {plan.out}; "
          f"{len(plan.seeds) - len(todo)} of {len(plan.seeds)} seeds already done, running "
          f"{len(todo)} in {len(runner.core_slots(parallel, len(todo)))} parallel process(es)",
          file=sys.stderr)
    jobs = [runner.Job(f"seed {s}", (*plan.train_args, f"--seed={s}")) for s in todo]
    runner.run(jobs, parallel, lambda outcome: keep(plan, outcome), unit="seed", ray=ray)
    logs = [tutorial_log.read(plan.log_path(s), batch_size=plan.cfg["batch_size"])
            for s in plan.seeds]
    band = band_of(plan, logs, ran=bool(todo))
    os.makedirs(os.path.dirname(os.path.abspath(plan.out)), exist_ok=True)
    atomic.write_text(plan.out, bands.band_json(band))
    print(f"# wrote {plan.out}: {len(plan.seeds)} seeds, {len(band['steps'])} display steps",
          file=sys.stderr)
    return band, logs


def keep(plan, outcome):
    """A finished seed's printed log, checked complete, as runs_dir/seed_<N>.log; its failure
    raised as RuntimeError."""
    if outcome.code != 0:
        raise RuntimeError(f"{outcome.job.name} failed (exit {outcome.code}: "
                           f"{outcome.error or 'no message'})")
    tutorial_log.parse(outcome.stdout, outcome.job.name)
    seed = int(outcome.job.name.split()[-1])
    atomic.write_text(plan.log_path(seed), outcome.stdout)


def band_of(plan, logs, ran):
    """The band file's content: the seeds' spread, the rule's error rates on them, and where,
    when and how they were made (kept from the file when no seed ran now)."""
    band = bands.band_from_logs(logs)
    edition = bands.edition_of(plan.cfg)
    published = edition and bands.published_log(edition)
    band.update(
        seeds=plan.seeds, command=plan.command, train_args=plan.train_args,
        config=bands.model_config(plan.cfg), edition=edition,
        # the edition's published log; else none: compare_log takes the seeds' mean
        reference=published and os.path.relpath(published, ROOT),
        versions=runner.versions(), machine=runner.machine(),
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    band["error_rates"] = bands.error_rates(band) if len(logs) >= 5 else None  # pairs: 3 left
    if not ran:   # no seed ran now: the logs were made when and where the band says
        with contextlib.suppress(OSError, ValueError):
            with open(plan.out) as f:
                made = json.load(f)
            band.update({k: made[k] for k in ("versions", "machine", "created", "command")
                         if k in made})
    return band


def check_runs_dir(plan):
    """SeedError when plan.runs_dir holds seeds of another config: the config in their logs'
    seed lines, or, for logs without one, the arguments in train_args.json."""
    headed = False
    for path in sorted(glob.glob(os.path.join(plan.runs_dir, "seed_*.log"))):
        made, how = bands.run_config(path)
        headed = headed or how == "its first line"
        if how == "its first line" and bands.model_config(made) != bands.model_config(plan.cfg):
            raise SeedError(f"{plan.runs_dir} holds runs of another config "
                            f"({', '.join(bands.differences(made, plan.cfg))}); use another "
                            "--runs_dir")
    args_file = os.path.join(plan.runs_dir, "train_args.json")
    if os.path.exists(args_file) and not headed:
        with open(args_file) as f:
            previous = json.load(f)
        if previous != plan.train_args:
            raise SeedError(f"{plan.runs_dir} holds runs made with "
                            f"{shlex.join(previous) or 'no arguments'}; use another --runs_dir")
    atomic.write_text(args_file, json.dumps(plan.train_args))


def seed_logs(runs_dir, batch_size):
    """{seed: tutorial_log.Log} of the seed_N.log files in `runs_dir`, in seed order."""
    found = {int(re.search(r"seed_(\d+)\.log$", p)[1]): p
             for p in glob.glob(os.path.join(runs_dir, "seed_*.log"))}
    return {s: tutorial_log.read(found[s], batch_size=batch_size) for s in sorted(found)}


def edition_plans(seeds, train_config):
    """A BandPlan for each published edition's committed band (seeds 1, 2, ...: `seeds` of them,
    or as many as it has), with the published values whatever config.py holds here.
    `train_config(args)`: the config train_rnn.py runs with `args`, as a dict."""
    plans = []
    for name in bands.editions():
        band_file, runs_dir = bands.edition_band(name)
        edition_file = os.path.join("editions", name + ".py")
        cfg = bands.edition_config(name)
        now = train_config([edition_file])   # config.py as edited here, the edition over it
        train_args = [edition_file] + [f"--{k}={v}" for k, v in bands.model_config(cfg).items()
                                       if now[k] != v]
        count = max(seeds, len(glob.glob(os.path.join(runs_dir, "seed_*.log"))))
        plans.append(BandPlan(cfg, train_args, list(range(1, count + 1)), band_file, runs_dir,
                              "python make_band.py --all-editions"))
    return plans
