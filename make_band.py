"""Run many seeds of train_rnn.py and record the spread of their logs: the seed band.

    python make_band.py --seeds 10                       # the band of config.py as it is
    python make_band.py --seeds 10 -- --optimizer=adam --training_steps=2000
    python make_band.py editions/recurrent_network_2017_01.py --seeds 20   # an edition's
    python make_band.py --all-editions     # every published edition's band, and their tables

Arguments after `--` go to train_rnn.py, over config.py (and over the edition file, if one is
given). The band is stored under the config it was made with, bands/<config hash>_<steps>/
(band.json, which records that config, and the seeds' logs in runs/), where compare_log.py finds
it for any run of that config (bands.py); --out and --runs_dir put it elsewhere. The published
editions' bands are committed under reference/ (bands.edition_band). Seeds run as parallel
processes, up to the core count, each pinned to its share of the cores. Each seed's log is kept
as it finishes; run the same command again after an interruption and finished seeds are not
redone. With --ray ADDRESS the seeds run on a Ray cluster instead (cluster.py) and their logs
come back.
"""
import argparse
import concurrent.futures
import contextlib
import datetime
import functools
import glob
import importlib.metadata
import itertools
import json
import os
import platform
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading

from tqdm import tqdm

import bands
import configurator
from compare_log import (LogError, judge, parse_log, points_at as compare_points, read_band,
                         read_log, seeds_at, summarize, test_len as test_len_of, wrong_images)
from data import atomic_write_text
from lstm_mnist import rule

HERE = os.path.dirname(os.path.abspath(__file__))


def machine():
    """The CPU, core count and system: where timings and logs were made."""
    return {"cpu": cpu_model(), "cores": len(os.sched_getaffinity(0)),
            "system": platform.platform()}


def versions():
    return ({p: importlib.metadata.version(p) for p in ("tensorflow", "tf-keras", "numpy")}
            | {"python": platform.python_version()})


def cpu_model():
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


_children, _children_lock = set(), threading.Lock()


def train_process(train_args, cores):
    """Run train_rnn.py with `train_args`, pinned to `cores`; its CompletedProcess.

    The child has a session of its own, so a Ctrl-C in the terminal reaches it only through
    stop_children(): once, as a request to checkpoint and stop.

    Raises:
        RuntimeError: it failed; the message holds its last line on stderr.
    """
    cmd = [sys.executable, os.path.join(HERE, "train_rnn.py"), *train_args]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True,
                          preexec_fn=lambda: os.sched_setaffinity(0, cores)) as p:
        with _children_lock:
            _children.add(p)
        try:
            out, err = p.communicate()
        finally:
            with _children_lock:
                _children.discard(p)
    if p.returncode != 0:
        last = (err.strip().splitlines() or ["(no message)"])[-1]
        raise RuntimeError(f"exit {p.returncode}: {last}")
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def stop_children(timeout=120):
    """Ask every running train_rnn.py to stop (SIGINT: each saves a checkpoint and exits 130);
    wait for them, killing any that has not stopped after `timeout` seconds. Their count."""
    with _children_lock:
        running = list(_children)
    for p in running:
        with contextlib.suppress(ProcessLookupError):
            p.send_signal(signal.SIGINT)
    for p in running:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
    return len(running)


def core_slots(jobs, tasks):
    """The cores of each parallel process: at most `jobs` processes, one per task, each with
    its own equal share of this process's cores."""
    cores = sorted(os.sched_getaffinity(0))
    jobs = max(1, min(jobs, tasks, len(cores)))
    per_job = len(cores) // jobs
    return [set(cores[j * per_job:(j + 1) * per_job]) for j in range(jobs)]


def run_pinned(tasks, slots, unit):
    """Call each `task(cores)` in parallel threads, one per slot of cores, with a progress bar
    on stderr; return their results in order. The first failure cancels what has not started
    and is raised once the running ones end."""
    free = queue.Queue()
    for cores in slots:
        free.put(cores)

    def pinned(task):
        cores = free.get()
        try:
            return task(cores)
        finally:
            free.put(cores)

    with concurrent.futures.ThreadPoolExecutor(len(slots)) as pool:
        futures = [pool.submit(pinned, task) for task in tasks]
        try:
            for fut in tqdm(concurrent.futures.as_completed(futures), total=len(tasks),
                            desc=f"{unit}s", unit=unit, file=sys.stderr,
                            disable=not tasks or not sys.stderr.isatty()):
                fut.result()
        except BaseException:
            for f in futures:
                f.cancel()
            stop_children()   # Ctrl-C, or another run failed: the running ones checkpoint
            raise
    return [f.result() for f in futures]


def run_seed(seed, train_args, runs_dir, cores):
    """Run one seed pinned to `cores`; its log lands in runs_dir/seed_<seed>.log when done."""
    try:   # no run folder: the log is all the band needs
        r = train_process([f"--seed={seed}", "--runs_dir=", *train_args], cores)
    except RuntimeError as e:
        raise RuntimeError(f"seed {seed} failed ({e})") from None
    keep_seed_log(seed, runs_dir, r.stdout)
    return seed


def keep_seed_log(seed, runs_dir, log):
    """A seed's printed log, checked complete (else LogError), as runs_dir/seed_<seed>.log."""
    parse_log(log, f"seed {seed}")
    atomic_write_text(os.path.join(runs_dir, f"seed_{seed}.log"), log)


def seed_came_back(seed, runs_dir, code, out, last, files):
    """A seed run on the Ray cluster (cluster.run_all): its log kept, or its failure raised."""
    if code != 0:
        raise RuntimeError(f"seed {seed} failed (exit {code}: {last or 'no message'})")
    keep_seed_log(seed, runs_dir, out)


def band_from_logs(logs):
    """The band of `logs` (parsed logs of one config's seeds): per display step the seeds' mean,
    sd, min, max and percentiles (for people and plots), and each seed's own values (for the
    rule, which takes its limits from them at whatever steps it judges)."""
    steps, fmt = logs[0]["steps"], logs[0].get("format", "step")
    for log in logs:
        if log["steps"] != steps or log.get("format", "step") != fmt:
            raise LogError("the seeds' logs have different display steps or formats")
    per_step = {key: [summarize([log[key][i] for log in logs]) for i in range(len(steps))]
                for key in ("loss", "accuracy")}
    band = {"steps": steps, "format": fmt}
    for key, rows in per_step.items():
        band[key] = {stat: [row[stat] for row in rows] for stat in rows[0]}
    band["test_accuracy"] = summarize([log["test_accuracy"] for log in logs])
    fulls = [log["test_accuracy_full"] for log in logs if log["test_accuracy_full"] is not None]
    band["test_accuracy_full"] = summarize(fulls) if len(fulls) == len(logs) else None
    band["seeds"] = list(range(len(logs)))   # the count the rule needs; make() names them
    band["seed_values"] = {key: [log[key] for log in logs]
                           for key in ("loss", "accuracy", "test_accuracy")}
    return band


def rule_error_rates(band):
    """How often the rule rejects the band's genuine runs at its full length: each seed judged
    against the band of the others (the single-run verdict), and each pair of seeds judged with
    each other (--against) against the band of the rest.

    Returns:
        dict: the two shares rejected, and which seeds and pairs were.
    """
    rates = rule.error_rates(seeds_at(band, band["steps"]))
    seeds = band["seeds"]
    return {"single_run_rejected": rates.single_rate,
            "single_runs_rejected": [seeds[i] for i in rates.single],
            "pairs_rejected": rates.pair_rate,
            "pairs_rejected_seeds": [[seeds[i], seeds[j]] for i, j in rates.pairs],
            "single_runs": rates.singles, "pairs": rates.pair_count}


def band_json(band):
    """The band as JSON, numbers rounded to 6 digits, each list of numbers on one line."""
    def rounded(x):
        if isinstance(x, float):
            return round(x, 6)
        if isinstance(x, dict):
            return {k: rounded(v) for k, v in x.items()}
        return [rounded(v) for v in x] if isinstance(x, list) else x
    text = json.dumps(rounded(band), indent=1)
    return re.sub(r"\[\s+([-0-9.,\s]+?)\s+\]",
                  lambda m: "[" + re.sub(r"\s+", " ", m[1]) + "]", text) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    own, train_args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv \
        else (argv, [])
    parser = configurator._ArgParser(prog="make_band.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("edition", nargs="?", help="an edition file (editions/*.py, or its "
                        "name) to apply over config.py, as train_rnn.py does")
    parser.add_argument("--seeds", type=int, help="how many seeds (default 10; --all-editions: "
                        "20)")
    parser.add_argument("--first_seed", type=int, default=1, help="seeds are first_seed, +1, ...")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)),
                        help="parallel runs (default: the core count)")
    parser.add_argument("--out", help="the band file (default: bands/<config hash>_<steps>/"
                        "band.json)")
    parser.add_argument("--runs_dir", help="where the seeds' logs go (default: runs/ beside the "
                        "band file)")
    parser.add_argument("--ray", metavar="ADDRESS", help="run the seeds on this Ray cluster "
                        "(auto: the one `ray start --head` started here), each with the cores "
                        "--jobs gives it here; the logs come back here")
    parser.add_argument("--rates", action="store_true", help="measure the rule on every "
                        "committed band (its own seeds, and runs made to differ) at run lengths "
                        f"{', '.join(map(str, RATE_LENGTHS))} and full; print the tables and "
                        "write reference/rule_rates.json")
    parser.add_argument("--all-editions", action="store_true", help="make (or finish) the "
                        "committed band of every published edition in reference/, and print "
                        "the table of editions")
    args = parser.parse_args(own)
    args.seeds = args.seeds or (20 if args.all_editions else 10)
    if args.seeds < 2 or args.jobs < 1:
        parser.error("--seeds must be at least 2 and --jobs at least 1")
    for arg in train_args:
        if arg.split("=")[0] in ("--seed", "--runs_dir", "--resume", "--run_name"):
            parser.error(f"{arg.split('=')[0]} after -- is for single runs; make_band.py sets it")
    args.cluster = None
    if args.ray:   # before anything runs or is written: a bad address is one line, exit 2
        import cluster
        try:
            args.cluster = cluster.connect(args.ray)
        except cluster.ClusterError as e:
            parser.error(str(e))
    if args.rates:
        rates = rule_rates()
        atomic_write_text(RATES_FILE, json.dumps(rates, indent=1) + "\n")
        print("\n\n".join(rates_tables(rates)))
        return None
    if args.all_editions:
        if args.edition or train_args or args.out or args.runs_dir:
            parser.error("--all-editions makes every edition's band where it is committed; "
                         "give it with --seeds and --jobs only")
        return all_editions(parser, args)
    train_args = [args.edition, *train_args] if args.edition else train_args
    cfg = train_config(train_args)
    out = args.out or os.path.join(bands.band_folder(cfg), "band.json")
    runs_dir = args.runs_dir or os.path.join(os.path.dirname(os.path.abspath(out)), "runs")
    make(parser, args, cfg, train_args, out, runs_dir, shlex.join(["python", "make_band.py",
                                                                   *argv]))


def train_config(train_args):
    """The config train_rnn.py runs with `train_args` (an edition file first, if any), as a
    dict; exits with one line when they are not valid, before any seed runs."""
    import train_rnn   # the choice tables
    cfg, _ = configurator.parse_config(train_args, configurator.config_parser(
        prog="make_band.py", choices=train_rnn.CHOICES, editions=True))
    return vars(cfg)


def make(parser, args, cfg, train_args, out, runs_dir, command):
    """Run the seeds not done yet in `runs_dir` and write the band of all of them to `out`;
    return the band and the seeds' logs."""
    try:
        os.makedirs(runs_dir, exist_ok=True)
    except OSError as e:
        parser.error(f"cannot create {runs_dir} ({e.strerror}); give a writable --runs_dir")
    check_runs_dir(parser, runs_dir, cfg, train_args)

    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    todo = [s for s in seeds if not os.path.exists(os.path.join(runs_dir, f"seed_{s}.log"))]
    slots = core_slots(args.jobs, len(todo))
    edition = bands.edition_of(cfg)
    differs = ", ".join(bands.differences(cfg, configurator.PUBLISHED)) or "the tutorial's config"
    print(f"# band of {f'edition {edition}: ' if edition else ''}{differs}: {out}; "
          f"{len(seeds) - len(todo)} of {len(seeds)} seeds already done, running {len(todo)} in "
          f"{len(slots)} parallel process(es)", file=sys.stderr)
    try:
        if args.cluster:
            import cluster
            cluster.run_all(args.cluster, [
                (f"seed {s}", [f"--seed={s}", "--runs_dir=", *train_args], None, None,
                 functools.partial(seed_came_back, s, runs_dir)) for s in todo],
                len(slots[0]), "seed")
        else:
            run_pinned([functools.partial(run_seed, s, train_args, runs_dir) for s in todo],
                       slots, "seed")
    except (RuntimeError, LogError) as e:
        parser.exit(1, f"make_band.py: error: {e}; finished seeds are kept, run the same "
                       "command again to resume\n")
    except KeyboardInterrupt:
        parser.exit(130, "make_band.py: interrupted; finished seeds are kept, run the same "
                         "command again to resume\n")

    logs = [read_log(os.path.join(runs_dir, f"seed_{s}.log"), batch_size=cfg["batch_size"])
            for s in seeds]
    band = band_from_logs(logs)
    published = edition and bands.published_log(edition)
    band.update(
        seeds=seeds,
        command=command,
        train_args=train_args,
        config=bands.model_config(cfg),
        edition=edition,
        # the edition's published log; else none: compare_log takes the seeds' mean
        reference=published and os.path.relpath(published, HERE),
        versions=versions(),
        machine=machine(),
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
    band["error_rates"] = rule_error_rates(band) if len(logs) >= 5 else None  # pairs: 3 left
    if not todo:   # no seed ran now: the logs were made when and where the band says
        with contextlib.suppress(OSError, ValueError):
            with open(out) as f:
                made = json.load(f)
            band.update({k: made[k] for k in ("versions", "machine", "created", "command")
                         if k in made})
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    atomic_write_text(out, band_json(band))
    print(f"# wrote {out}: {len(seeds)} seeds, {len(band['steps'])} display steps",
          file=sys.stderr)
    return band, logs


def check_runs_dir(parser, runs_dir, cfg, train_args):
    """Stop when `runs_dir` holds seeds of another config than `cfg`: the config in their logs'
    '# seed' lines, or, for logs without one, the arguments in train_args.json."""
    headed = False
    for path in sorted(glob.glob(os.path.join(runs_dir, "seed_*.log"))):
        made, how = bands.run_config(path)
        headed = headed or how == "its first line"
        if how == "its first line" and bands.model_config(made) != bands.model_config(cfg):
            parser.exit(2, f"make_band.py: error: {runs_dir} holds runs of another config "
                           f"({', '.join(bands.differences(made, cfg))}); use another "
                           "--runs_dir\n")
    args_file = os.path.join(runs_dir, "train_args.json")
    if os.path.exists(args_file) and not headed:
        with open(args_file) as f:
            previous = json.load(f)
        if previous != train_args:
            parser.exit(2, f"make_band.py: error: {runs_dir} holds runs made with "
                           f"{shlex.join(previous) or 'no arguments'}; use another --runs_dir\n")
    atomic_write_text(args_file, json.dumps(train_args))


def all_editions(parser, args):
    """Make (or finish) every edition's committed band, seeds 1, 2, ... (--seeds of them, or as
    many as it has), then print the table of editions (the published final accuracy, the seeds'
    mean and range, the published log's verdict, the rule's error rates) and the table of which
    edition's band accepts which edition's runs."""
    made, logs = {}, {}
    for name in bands.editions():
        band_file, runs_dir = bands.edition_band(name)
        edition_file = os.path.join("editions", name + ".py")
        cfg = bands.edition_config(name)
        now = train_config([edition_file])   # config.py as edited here, the edition over it
        train_args = [edition_file] + [f"--{k}={v}" for k, v in bands.model_config(cfg).items()
                                       if now[k] != v]   # the published values, whatever here
        committed = len(glob.glob(os.path.join(runs_dir, "seed_*.log")))
        made[name], logs[name] = make(parser, argparse.Namespace(**dict(
            vars(args), first_seed=1, seeds=max(args.seeds, committed))), cfg, train_args,
            band_file, runs_dir, "python make_band.py --all-editions")
    print(editions_table(made))
    print()
    print(separation_table(made, logs))


def separation_table(made, logs):
    """Can the rule tell the editions apart? (markdown) For each edition's runs (its seeds, and
    its published log), how many each edition's band judges consistent, on the display steps
    they share (compare_log.judge); a seed is judged against the band of its own edition's
    other seeds."""
    names = list(made)
    rows = ["| runs \\ band of | " + " | ".join(names) + " |",
            "| --- |" + " --- |" * len(names)]
    for name in names:
        published = bands.published_log(name)
        runs = [(f"{len(logs[name])} seeds of {name}", logs[name])]
        if published:
            batch = bands.edition_config(name)["batch_size"]
            runs.append((f"{name}, published log", [read_log(published, batch_size=batch)]))
        for label, judged in runs:
            cells = []
            for other in names:
                ok = 0
                for i, log in enumerate(judged):
                    band = made[other]
                    if other == name and len(judged) > 1:   # leave the seed out of the band
                        band = dict(band_from_logs(logs[name][:i] + logs[name][i + 1:]),
                                    config=band["config"])
                    ok += judge(log, band)[0]
                cells.append(f"{ok} of {len(judged)}")
            rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def editions_table(made):
    """The table of editions (markdown) from {edition: its band}."""
    rows = ["| edition | published final accuracy | our seeds: mean (min .. max) | "
            "published log's verdict | rule's error rates: single runs, pairs |",
            "| --- | --- | --- | --- | --- |"]
    for name, band in made.items():
        published = bands.published_log(name)
        t = band["test_accuracy"]
        if published:
            log = read_log(published, batch_size=bands.edition_config(name)["batch_size"])
            ok, lines, _ = judge(log, band)
            verdict_text, final = "consistent" if ok else lines[-1], f"{log['test_accuracy']}"
        else:
            verdict_text, final = "(no log published here)", "-"
        rates = band["error_rates"]
        rows.append(f"| {name} | {final} | {t['mean']:.4f} ({t['min']:.4f} .. {t['max']:.4f}), "
                    f"{len(band['seeds'])} seeds | {verdict_text} | "
                    f"{rates['single_run_rejected']:.0%} of {rates['single_runs']}, "
                    f"{rates['pairs_rejected']:.1%} of {rates['pairs']} |")
    return "\n".join(rows)


# ---------------------------------------------------------------------------------------------
# The rule measured on the committed bands: false rejections and power at run lengths (--rates)

RATE_LENGTHS = (200, 400, 1000, 2000, 5000)   # and each band's full length
RATES_FILE = os.path.join(HERE, "reference", "rule_rates.json")
HELD_OUT = range(21, 41)   # the tutorial's seeds that the rule's constants were not chosen on


def seed_logs(runs_dir, batch_size):
    """{seed: parsed log} of the seed_N.log files in `runs_dir`, in seed order."""
    found = {int(re.search(r"seed_(\d+)\.log$", p)[1]): p
             for p in glob.glob(os.path.join(runs_dir, "seed_*.log"))}
    return {s: read_log(found[s], batch_size=batch_size) for s in sorted(found)}


def committed_bands():
    """[(label, band, its seeds' logs, {kind of run that differs: logs})] of the bands committed
    under reference/: each edition's (the tutorial's also as the band of its held-out seeds) and
    each edited config's, with the runs made to differ from it (power_runs/ beside it)."""
    found = []
    files = [(name, *bands.edition_band(name)) for name in bands.editions()] + [
        (None, path, os.path.join(os.path.dirname(path), "runs"))
        for path in sorted(glob.glob(os.path.join(bands.COMMITTED_BANDS_DIR, "*", "band.json")))]
    for name, band_file, runs_dir in files:
        band = read_band(band_file)
        cfg = bands.band_config(band)
        logs = list(seed_logs(runs_dir, cfg["batch_size"]).values())
        power_dir = (os.path.join(HERE, "reference", "power_runs")
                     if name == bands.TUTORIAL_EDITION else
                     os.path.join(os.path.dirname(band_file), "power_runs"))
        power = {}
        for folder in sorted(glob.glob(os.path.join(power_dir, "*"))):
            runs = seed_logs(folder, cfg["batch_size"])
            if runs:
                made, _ = bands.run_config(os.path.join(folder, f"seed_{min(runs)}.log"))
                power[", ".join(bands.model_differences(made, cfg))] = list(runs.values())
        label = name or ", ".join(bands.differences(cfg, configurator.PUBLISHED))
        if name == bands.TUTORIAL_EDITION:
            held = [log for s, log in zip(band["seeds"], logs) if s in HELD_OUT]
            if held:
                    found.append((f"{label}, seeds {HELD_OUT[0]}-{HELD_OUT[-1]} (held out)",
                              dict(band_from_logs(held), config=band["config"]), held, {}))
        found.append((f"{label}, all {len(logs)} seeds" if name == bands.TUTORIAL_EDITION
                      else label, band, logs, power))
    return found


def lengths_of(band):
    """The run lengths to measure a band at: RATE_LENGTHS below its own, then its own."""
    return [n for n in RATE_LENGTHS if n < band["steps"][-1]] + [band["steps"][-1]]


def judged_at(band, length):
    """The band's display steps up to `length`, and whether the final accuracy is judged."""
    steps = [s for s in band["steps"] if s <= length]
    return steps, steps[-1] == band["steps"][-1]


def rates_at(band, length):
    """[rejected, judged] of the band's seeds (each against the others) and of its pairs of
    seeds, for runs of `length` steps."""
    steps, final = judged_at(band, length)
    r = rule.error_rates(seeds_at(band, steps, final))
    return {"single": [len(r.single), r.singles], "pairs": [len(r.pairs), r.pair_count]}


def power_at(band, runs, length):
    """[rejected, judged] of `runs` (of another config) against the band, and of each of them
    paired with each band seed (against the band of the other seeds), cut at `length` steps."""
    steps, final = judged_at(band, length)
    seeds = seeds_at(band, steps, final)
    n = test_len_of(band)
    alone = pairs = 0
    for run in runs:
        points = compare_points(run, steps)
        wrong = wrong_images(run["test_accuracy"], n) if final else None
        alone += not rule.judge(points, seeds, wrong).consistent
        for i in range(seeds.n):
            pairs += not rule.judge_pair(points, seeds.values[i], seeds.without(i), wrong,
                                         None if seeds.wrong is None else int(seeds.wrong[i])
                                         ).consistent
    return {"single": [alone, len(runs)], "pairs": [pairs, len(runs) * seeds.n]}


def rule_rates():
    """Every committed band's false-rejection rates and power at each run length (JSON-ready)."""
    rows = []
    for label, band, logs, power in committed_bands():
        lengths = lengths_of(band)
        rows.append({"band": label, "seeds": len(logs), "lengths": lengths,
                     "false_rejections": {str(n): rates_at(band, n) for n in lengths},
                     "power": {kind: {str(n): power_at(band, runs, n) for n in lengths}
                               for kind, runs in power.items()},
                     "runs_per_kind": {kind: len(runs) for kind, runs in power.items()}})
    return {"alpha": rule.ALPHA, "rows": rows,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def rates_tables(rates):
    """The false-rejection table and the power table (markdown) of rule_rates()."""
    def cell(by_length, n):
        if n is None:
            return "-"
        (a, b), (c, d) = by_length[str(n)]["single"], by_length[str(n)]["pairs"]
        return f"{a}/{b} · {c}/{d}"
    head = "| {} | 200 | 400 | 1000 | 2000 | 5000 | full |"
    false = [head.format("band (runs: alone · pairs)"), "| --- |" + " --- |" * 6]
    power = [head.format("band: runs that differ (alone · paired with each seed)"),
             "| --- |" + " --- |" * 6]
    for row in rates["rows"]:
        full = row["lengths"][-1]
        shown = [n if n in row["lengths"] else None for n in RATE_LENGTHS]
        false.append(f"| {row['band']} (full: {full} steps) | "
                     + " | ".join(cell(row["false_rejections"], n) for n in shown + [full]) + " |")
        for kind, by_length in row["power"].items():
            power.append(f"| {row['band']}: {kind} ({row['runs_per_kind'][kind]} runs) | "
                         + " | ".join(cell(by_length, n) for n in shown + [full]) + " |")
    return "\n".join(false), "\n".join(power)


if __name__ == "__main__":
    # Ctrl-C (SIGINT) stops it even when started from a script's background job, which starts
    # with SIGINT ignored: the runs it starts handle SIGINT themselves (runs.py), so must it
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        main()
    except KeyboardInterrupt:
        stop_children()
        print("make_band.py: interrupted; finished seeds are kept, run the same command again "
              "to resume", file=sys.stderr)
        sys.exit(130)
