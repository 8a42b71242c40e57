"""A sweep: every combination of some config values, for some seeds each, trained into run
folders and summed up in tables. sweep.py is its command line.

    combinations = parse_grid(["optimizer=gradient_descent,adam", "cell:num_hidden=gru:64"])
    plan = plan_sweep(combinations, seeds, train_args, sweep_dir)   # checked before any runs
    run_sweep(plan, parallel=2)                                     # here, or ray=...
    rows = collect(plan)                                            # table(rows), plot(rows)
"""
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shlex
import statistics

import numpy as np

from lstm_mnist import atomic, cli, runner, runs, tutorial_log
from lstm_mnist.bands import NOT_THE_MODEL
from lstm_mnist.published import PUBLISHED

NOT_SWEPT = {"seed": "use --seeds", "runs_dir": "use --sweep_dir", "data_dir": "give it after --",
             "checkpoint_every": "give it after --", "keep_checkpoints": "give it after --"}
SINGLE_RUN_ONLY = ("seed", "runs_dir", "run_name", "resume")


class SweepError(Exception):
    """A bad grid or sweep folder; the message says which and what to do."""


def parse_grid(specs):
    """["a=1,2", "b:c=x:3,y:4"] -> the combinations, each a list of (key, text) pairs, in order:
    [[(a,1),(b,x),(c,3)], [(a,1),(b,y),(c,4)], [(a,2),(b,x),(c,3)], ...]."""
    combinations, seen = [[]], set()
    for spec in specs:
        keys, sep, values = spec.partition("=")
        keys = keys.split(":")
        if not sep or not values or not all(keys):
            raise SweepError(f"{spec!r} is not key=value,value... (or key:key=value:value,...)")
        for key in keys:
            if key not in PUBLISHED:
                raise SweepError(f"unknown config key {key!r} in {spec!r}; known keys: "
                                 f"{', '.join(k for k in PUBLISHED if k not in NOT_SWEPT)}")
            if key in NOT_SWEPT:
                raise SweepError(f"{key} can't be swept ({NOT_SWEPT[key]})")
            if key in seen:
                raise SweepError(f"{key} is given twice; give all its values in one key=a,b")
            seen.add(key)
        tuples = [v.split(":") for v in values.split(",")]
        for t in tuples:
            if len(t) != len(keys) or not all(t):
                raise SweepError(f"{':'.join(t)!r} in {spec!r} needs {len(keys)} value(s) "
                                 f"joined by ':', one for each of {':'.join(keys)}")
        if len({tuple(t) for t in tuples}) < len(tuples):
            raise SweepError(f"{spec!r} repeats a value")
        combinations = [c + list(zip(keys, t)) for c in combinations for t in tuples]
    return combinations


@dataclasses.dataclass(frozen=True)
class Planned:
    """One run of the sweep: its combination, seed, train_rnn.py arguments, config, folder."""
    combination: list
    seed: int
    argv: list
    cfg: object
    run_dir: str


@dataclasses.dataclass(frozen=True)
class Plan:
    combinations: list
    seeds: list
    train_args: list
    sweep_dir: str
    runs: list   # Planned, combination by combination, seed by seed

    @property
    def runs_dir(self):
        return os.path.join(self.sweep_dir, "runs")


def plan_sweep(combinations, seeds, train_args, sweep_dir):
    """Every run of the sweep, each checked as train_rnn.py checks its arguments (SweepError or
    exit 2 with one line at the first bad one), and runs kept from an earlier sweep checked to
    be of the same model; before anything runs or is written."""
    for arg in train_args:
        key = arg.split("=")[0].lstrip("-")
        if key in SINGLE_RUN_ONLY:
            raise SweepError(f"--{key} after -- is for single runs; sweep.py sets it per run")
        if any(key == k for k, _ in combinations[0]):
            raise SweepError(f"{key} is in the grid and after --; give it in one place")
    parser = cli.config_parser(prog="sweep.py")
    planned = []
    for combo in combinations:
        argv = [f"--{k}={v}" for k, v in combo] + list(train_args)
        cfg = cli.parse_config(argv, parser)[0]
        for seed in seeds:
            run_dir = os.path.join(sweep_dir, "runs", run_name(combo, seed))
            check_kept(run_dir, cfg)
            planned.append(Planned(combo, seed, argv, cfg, run_dir))
    return Plan(combinations, seeds, list(train_args), sweep_dir, planned)


def check_kept(run_dir, cfg):
    """SweepError if a run kept in the sweep folder was trained with another model than `cfg`
    (config.py was edited since, say)."""
    if not os.path.exists(os.path.join(run_dir, "config.json")):
        return
    try:
        saved, _ = runs.load_run(run_dir, cfg, explicit=set())
    except runs.RunError as e:
        raise SweepError(str(e)) from None
    for key in vars(cfg).keys() - NOT_THE_MODEL - {"training_steps"}:
        if getattr(saved, key) != getattr(cfg, key):
            raise SweepError(f"{run_dir} was trained with {key}={getattr(saved, key)}, not "
                             f"{getattr(cfg, key)} (was config.py edited?); give another "
                             "--sweep_dir")


def run_name(combo, seed):
    """The run folder's name: its grid values and seed, e.g. cell=gru,optimizer=adam-seed1."""
    name = ",".join(f"{k}={v}" for k, v in combo)
    return re.sub(r"[^A-Za-z0-9=,.+_-]", "_", name) + f"-seed{seed}"


def default_sweep_dir(specs, train_args):
    """sweeps/<the grid's keys>-<hash of the grid and train args>: the same command, the same
    folder."""
    keys = "+".join(s.split("=")[0].replace(":", "+") for s in specs)
    digest = hashlib.sha256(json.dumps([specs, train_args]).encode()).hexdigest()[:6]
    return os.path.join("sweeps", f"{keys}-{digest}")


def claim_folder(plan):
    """Create the sweep folder, or check that it holds runs made with the same arguments after
    `--`; SweepError otherwise."""
    try:
        os.makedirs(plan.runs_dir, exist_ok=True)
    except OSError as e:
        raise SweepError(f"cannot create {plan.runs_dir} ({e.strerror}); give a writable "
                         "--sweep_dir") from None
    args_file = os.path.join(plan.sweep_dir, "train_args.json")
    if os.path.exists(args_file):
        with open(args_file) as f:
            previous = json.load(f)
        if previous != plan.train_args:
            raise SweepError(f"{plan.sweep_dir} holds runs made with "
                             f"{shlex.join(previous) or 'no arguments after --'}; use another "
                             "--sweep_dir")
    else:
        atomic.write_text(args_file, json.dumps(plan.train_args))


def finished(run_dir):
    """A run that needs no more training: it finished, or diverged (it would again)."""
    try:
        status = runs.run_status(run_dir)
    except runs.RunError:
        return False
    return bool(status.full_accuracy or status.diverged)


def todo(plan):
    """The plan's runs that are not finished yet."""
    return [p for p in plan.runs if not finished(p.run_dir)]


def run_sweep(plan, parallel, ray=None):
    """Train the runs not finished yet, at most `parallel` at once (on a cluster, with as many
    cores each): RuntimeError at the first that fails, unless it diverged (a result)."""
    def check(outcome):
        if outcome.code != 0 and not finished(outcome.job.run_dir):
            raise RuntimeError(f"{outcome.job.run_dir} failed (exit {outcome.code}: "
                               f"{outcome.error or 'no message'})")
    jobs = [runner.Job(os.path.basename(p.run_dir), (*p.argv, f"--seed={p.seed}"), p.run_dir)
            for p in todo(plan)]
    runner.run(jobs, parallel, check, unit="run", ray=ray, share_of=len(plan.runs))


# ---------------------------------------------------------------------------------------------
# The results

def spread(values):
    """Mean, sample sd, min and max of `values`, and the values; None where there are none."""
    if not values:
        return None
    return {"mean": statistics.fmean(values), "sd": float(np.std(values, ddof=1))
            if len(values) > 1 else 0.0, "min": min(values), "max": max(values), "values": values}


def collect(plan):
    """Per combination, its runs' logs and timings summed up over the seeds."""
    rows = []
    for combo in plan.combinations:
        per_seed, logs = [], []
        for p in (p for p in plan.runs if p.combination == combo):
            per_seed.append(run_result(p))
            logs.append(per_seed[-1].pop("log"))
        ok = [r for r in per_seed if not r["diverged"]]
        good = [log for log in logs if log]
        rows.append({
            "combination": dict(combo),
            "label": " ".join(f"{k}={v}" for k, v in combo),
            "seeds": len(per_seed), "diverged": len(per_seed) - len(ok),
            "steps": sorted({r["steps"] for r in per_seed}),
            **{key: spread([r[key] for r in ok if r[key] is not None]) for key in
               ("test_accuracy_full", "final_minibatch_loss", "ms_per_step")},
            "curve_steps": list(good[0].steps) if good else [],
            "mean_loss": [statistics.fmean(v) for v in zip(*(log.loss for log in good))],
            "mean_accuracy": [statistics.fmean(v) for v in zip(*(log.accuracy for log in good))],
            "runs": per_seed})
    return rows


def run_result(p):
    """One finished run's numbers (its parsed log under "log", for the curves)."""
    status = runs.run_status(p.run_dir)
    log = timing = None
    if not status.diverged:
        log = tutorial_log.read(p.run_dir, batch_size=status.cfg.batch_size)
        # a run killed right after its last checkpoint, then resumed, trained no step to time
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            with open(os.path.join(p.run_dir, "timing.json")) as f:
                saved = json.load(f)
            timing = {"ms_per_step": float(saved["ms_per_step"]), "cores": int(saved["cores"]),
                      "last_step": int(saved["last_step"])}
    steps = (tutorial_log.diverged_step(status.diverged) if status.diverged else
             timing["last_step"] if timing else status.step or log.steps[-1])
    return {"seed": p.seed, "run": p.run_dir, "diverged": status.diverged, "steps": steps,
            "test_accuracy_full": log and log.test_accuracy_full,
            "final_minibatch_loss": log and log.loss[-1],
            "ms_per_step": timing and timing["ms_per_step"],
            "cores": timing and timing["cores"], "log": log}


def table(rows):
    """The Markdown table: mean ± standard deviation over the seeds."""
    def cell(s, fmt):   # one seed has no spread to show
        return ("-" if s is None else f"{s['mean']:{fmt}}" if len(s["values"]) == 1
                else f"{s['mean']:{fmt}} ± {s['sd']:{fmt}}")
    cores = sorted({run["cores"] for r in rows for run in r["runs"] if run["cores"]})
    cores_text = " or ".join(map(str, cores))
    lines = ["| combination | seeds | accuracy, all 10000 test images | final minibatch loss | "
             f"ms per step{f' ({cores_text} core(s) a run)' if cores else ''} | steps |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        seeds = str(r["seeds"]) + (f" ({r['diverged']} diverged)" if r["diverged"] else "")
        lines.append(f"| {r['label']} | {seeds} | {cell(r['test_accuracy_full'], '.4f')} | "
                     f"{cell(r['final_minibatch_loss'], '.4f')} | {cell(r['ms_per_step'], '.1f')}"
                     f" | {', '.join(map(str, r['steps']))} |")
    return "\n".join(lines) + "\n"


def plot(rows, path, title):
    """Each combination's mean minibatch loss and training accuracy over the seeds, one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.8))
    for r in rows:
        if r["curve_steps"]:
            ax_loss.plot(r["curve_steps"], r["mean_loss"], label=r["label"], lw=1.2)
            ax_acc.plot(r["curve_steps"], r["mean_accuracy"], label=r["label"], lw=1.2)
    ax_loss.set(xlabel="step", ylabel="minibatch loss (mean over seeds)", yscale="log")
    ax_acc.set(xlabel="step", ylabel="training accuracy (mean over seeds)", ylim=(0, 1))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    try:
        atomic.write_figure(path, fig, dpi=110)
    finally:
        plt.close(fig)
