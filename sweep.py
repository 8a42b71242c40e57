"""Train every combination of some config values, for some seeds each, and tabulate them.

    python sweep.py optimizer=gradient_descent,adam cell=basic_lstm,gru --seeds 2
    python sweep.py learning_rate=0.0005,0.001,0.002 --seeds 3 -- --training_steps=3000
    python sweep.py optimizer:learning_rate=gradient_descent:0.001,adam:0.001   # paired values

`key=a,b` gives key the values a and b; keys side by side multiply (every combination). Keys
joined with ':' take their values together: `optimizer:learning_rate=adam:0.001,momentum:0.01`
is two combinations, not four. Arguments after `--` go to every run of train_rnn.py.

Runs go as parallel processes, each pinned to its share of the cores (make_band.py's runner),
into run folders <sweep_dir>/runs/<combination>-seed<N> with their checkpoints and TensorBoard
events (tensorboard --logdir <sweep_dir>/runs). Finished runs are kept: the same command after
a stop resumes, and a longer grid in the same folder trains only what is new. The sweep folder
gets results.md (the table, also printed), results.json (every number) and curves.png (each
combination's mean minibatch loss and training accuracy).

With --ray ADDRESS (auto: the cluster `ray start --head` started here) the runs go to a Ray
cluster instead (cluster.py), each with the cores it would get here; their folders come back.
"""
import argparse
import datetime
import functools
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import sys

import configurator
import make_band
import runs
import train_rnn   # the choice tables, to check every run before any starts
from bands import NOT_THE_MODEL
from compare_log import LogError, read_log, summarize
from data import atomic_write_text

NOT_SWEPT = {"seed": "use --seeds", "runs_dir": "use --sweep_dir", "data_dir": "give it after --",
             "checkpoint_every": "give it after --", "keep_checkpoints": "give it after --"}


class SweepError(Exception):
    """A bad grid or sweep folder; the message says which and what to do."""


def parse_grid(specs, known):
    """["a=1,2", "b:c=x:3,y:4"] -> the combinations, each a list of (key, text) pairs, in order:
    [[(a,1),(b,x),(c,3)], [(a,1),(b,y),(c,4)], [(a,2),(b,x),(c,3)], ...]."""
    combinations, seen = [[]], set()
    for spec in specs:
        keys, sep, values = spec.partition("=")
        keys = keys.split(":")
        if not sep or not values or not all(keys):
            raise SweepError(f"{spec!r} is not key=value,value... (or key:key=value:value,...)")
        for key in keys:
            if key not in known:
                raise SweepError(f"unknown config key {key!r} in {spec!r}; known keys: "
                                 f"{', '.join(k for k in known if k not in NOT_SWEPT)}")
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


def check_runs(combinations, train_args):
    """Each combination's train_rnn.py arguments, checked as train_rnn.py checks them (exit 2,
    one line, on the first bad value), before anything runs."""
    parser = configurator.config_parser(prog="sweep.py", choices=train_rnn.CHOICES)
    for arg in train_args:
        key = arg.split("=")[0].lstrip("-")
        if key in ("seed", "runs_dir", "run_name", "resume"):
            raise SweepError(f"--{key} after -- is for single runs; sweep.py sets it per run")
        if any(key == k for k, _ in combinations[0]):
            raise SweepError(f"{key} is in the grid and after --; give it in one place")
    planned = []
    for combo in combinations:
        argv = [f"--{k}={v}" for k, v in combo] + list(train_args)
        planned.append((argv, configurator.parse_config(argv, parser)[0]))
    return planned


def check_kept(run_dir, cfg):
    """SweepError if a run kept in the sweep folder was trained with another model than `cfg`
    (config.py was edited since, say)."""
    if not os.path.exists(os.path.join(run_dir, "config.json")):
        return
    saved, _ = runs.load_run(run_dir, cfg, explicit=set())
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


def finished(run_dir):
    """A run that needs no more training: it finished, or diverged (it would again)."""
    try:
        status = runs.run_status(run_dir)
    except runs.RunError:
        return False
    return bool(status.full_accuracy or status.diverged)


def train(argv, run_dir, seed, cores):
    """Train one run pinned to `cores`, resuming its folder if an earlier sweep left it."""
    if os.path.exists(os.path.join(run_dir, "config.json")):
        args = ["--resume", run_dir]
    else:
        shutil.rmtree(run_dir, ignore_errors=True)   # made, but stopped before its config
        args = [*argv, f"--seed={seed}", f"--runs_dir={os.path.dirname(run_dir)}",
                f"--run_name={os.path.basename(run_dir)}"]
    try:
        make_band.train_process(args, cores)
    except RuntimeError as e:
        if not finished(run_dir):   # a diverged run is a result; anything else stops the sweep
            raise RuntimeError(f"{run_dir} failed ({e})") from None


def spread(values):
    """Mean, standard deviation (n - 1), min and max of `values` (compare_log's summarize), and
    the values; None where there are none."""
    if not values:
        return None
    s = summarize(values)
    return {"mean": s["mean"], "sd": s["std"], "min": s["min"], "max": s["max"], "values": values}


def collect(combinations, seeds, runs_dir):
    """Per combination, its runs' logs and timings summed up over the seeds."""
    rows = []
    for combo in combinations:
        per_seed, logs = [], []
        for seed in seeds:
            run_dir = os.path.join(runs_dir, run_name(combo, seed))
            status = runs.run_status(run_dir)
            log = timing = None
            if not status.diverged:
                log = read_log(os.path.join(run_dir, "log.txt"),
                               batch_size=status.cfg.batch_size)
                with open(os.path.join(run_dir, "timing.json")) as f:
                    timing = json.load(f)
            logs.append(log)
            diverged_at = re.search(r"at step (\d+)", status.diverged or "")
            per_seed.append({"seed": seed, "run": run_dir, "diverged": status.diverged,
                             "steps": int(diverged_at[1]) if diverged_at else timing["last_step"],
                             "test_accuracy_full": log and log["test_accuracy_full"],
                             "final_minibatch_loss": log and log["loss"][-1],
                             "ms_per_step": timing and timing["ms_per_step"],
                             "cores": timing and timing["cores"]})
        ok = [r for r in per_seed if not r["diverged"]]
        good_logs = [log for log in logs if log]
        rows.append({
            "combination": dict(combo),
            "label": " ".join(f"{k}={v}" for k, v in combo),
            "seeds": len(seeds), "diverged": len(seeds) - len(ok),
            "steps": sorted({r["steps"] for r in per_seed}),
            "test_accuracy_full": spread([r["test_accuracy_full"] for r in ok]),
            "final_minibatch_loss": spread([r["final_minibatch_loss"] for r in ok]),
            "ms_per_step": spread([r["ms_per_step"] for r in ok]),
            "curve_steps": good_logs[0]["steps"] if good_logs else [],
            "mean_loss": [statistics.fmean(v) for v in zip(*(l["loss"] for l in good_logs))],
            "mean_accuracy": [statistics.fmean(v)
                              for v in zip(*(l["accuracy"] for l in good_logs))],
            "runs": per_seed})
    return rows


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
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def on_cluster(ray, todo, cores):
    """Train `todo` [(train_rnn.py args, run folder, seed)] on the Ray cluster, `cores` each, as
    train() does here; each finished folder replaces the driver's copy."""
    import cluster
    jobs = []
    for argv, run_dir, seed in todo:
        name = os.path.basename(run_dir)
        # on the worker the run folder is <scratch>/<name>; resumed from the driver's copy
        if os.path.exists(os.path.join(run_dir, "config.json")):
            args, files = ["--resume", f"{{scratch}}/{name}"], cluster.read_folder(run_dir)
        else:
            args, files = [*argv, f"--seed={seed}", "--runs_dir={scratch}",
                           f"--run_name={name}"], None
        jobs.append((name, args, name, files, functools.partial(came_back, run_dir)))
    cluster.run_all(ray, jobs, cores, "run")


def came_back(run_dir, code, out, last, files):
    """A run's folder, back from its worker: in place of the driver's copy, with the driver's
    runs_dir in its config.json (as a local run's). A run that failed stops the sweep, unless
    it diverged (a result)."""
    import cluster
    if "config.json" in files:
        saved = json.loads(files["config.json"])
        saved["config"]["runs_dir"] = os.path.dirname(run_dir)
        files["config.json"] = (json.dumps(saved, indent=1) + "\n").encode()
        cluster.write_folder(run_dir, files)
    if code != 0 and not finished(run_dir):
        raise RuntimeError(f"{run_dir} failed (exit {code}: {last})")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    own, train_args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv \
        else (argv, [])
    parser = configurator._ArgParser(prog="sweep.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid", nargs="+", metavar="KEY=VALUES",
                        help="key=a,b,c or key:key=a:x,b:y (see above)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per combination (default 2)")
    parser.add_argument("--first_seed", type=int, default=1, help="seeds are first_seed, +1, ...")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)),
                        help="parallel runs (default: the core count)")
    parser.add_argument("--sweep_dir", help="where runs and results go (default: "
                        "sweeps/<keys>-<hash of the command's grid and arguments>)")
    parser.add_argument("--ray", metavar="ADDRESS", help="run on this Ray cluster (auto: the "
                        "one `ray start --head` started here), each run with the cores --jobs "
                        "gives it here; the run folders come back here")
    args = parser.parse_args(own)
    if args.seeds < 1 or args.jobs < 1 or not 0 <= args.first_seed < 2**31 - args.seeds:
        parser.error("--seeds and --jobs must be at least 1, --first_seed a seed (>= 0)")
    try:
        combinations = parse_grid(args.grid, configurator.config_defaults())
        planned = check_runs(combinations, train_args)
        sweep_dir = args.sweep_dir or default_sweep_dir(args.grid, train_args)
        runs_dir = os.path.join(sweep_dir, "runs")
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        for combo, (_, cfg) in zip(combinations, planned):
            for s in seeds:
                check_kept(os.path.join(runs_dir, run_name(combo, s)), cfg)
    except (SweepError, runs.RunError) as e:
        parser.error(str(e))
    ray = None
    if args.ray:   # before anything is written: a bad address is one line, exit 2
        import cluster
        try:
            ray = cluster.connect(args.ray)
        except cluster.ClusterError as e:
            parser.error(str(e))
    try:
        os.makedirs(runs_dir, exist_ok=True)
    except OSError as e:
        parser.error(f"cannot create {runs_dir} ({e.strerror}); give a writable --sweep_dir")
    args_file = os.path.join(sweep_dir, "train_args.json")
    if os.path.exists(args_file):
        with open(args_file) as f:
            previous = json.load(f)
        if previous != train_args:
            parser.error(f"{sweep_dir} holds runs made with "
                         f"{shlex.join(previous) or 'no arguments after --'}; use another "
                         "--sweep_dir")
    else:
        atomic_write_text(args_file, json.dumps(train_args))

    todo = [(argv_, os.path.join(runs_dir, run_name(combo, s)), s)   # (args, run folder, seed)
            for combo, (argv_, _) in zip(combinations, planned) for s in seeds
            if not finished(os.path.join(runs_dir, run_name(combo, s)))]
    total = len(combinations) * len(seeds)
    slots = make_band.core_slots(args.jobs, total)   # as many cores a run as a full sweep
    print(f"# sweep folder {sweep_dir}: {len(combinations)} combination(s) x {len(seeds)} "
          f"seed(s); {total - len(todo)} of {total} runs already done; running {len(todo)} in "
          f"{min(len(slots), len(todo))} parallel process(es)", file=sys.stderr, flush=True)
    try:
        if ray:
            on_cluster(ray, todo, len(slots[0]))
        else:
            make_band.run_pinned([functools.partial(train, *run) for run in todo], slots, "run")
    except (RuntimeError, LogError) as e:
        parser.exit(1, f"sweep.py: error: {e}; finished runs are kept, run the same command "
                       "again to resume\n")
    except KeyboardInterrupt:   # run_pinned has stopped the runs: each saved a checkpoint
        parser.exit(130, "sweep.py: interrupted; the runs saved checkpoints, run the same "
                         "command again to resume\n")

    rows = collect(combinations, seeds, runs_dir)
    command = shlex.join(["python", "sweep.py", *argv])
    markdown = table(rows)
    atomic_write_text(os.path.join(sweep_dir, "results.md"), f"`{command}`\n\n{markdown}")
    atomic_write_text(os.path.join(sweep_dir, "results.json"), json.dumps({
        "command": command, "grid": args.grid, "train_args": train_args, "seeds": seeds,
        "rows": rows,
        "versions": make_band.versions(), "machine": make_band.machine(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }, indent=1) + "\n")
    seeds_text = f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}"
    plot(rows, os.path.join(sweep_dir, "curves.png"),
         f"{' '.join(args.grid)}, {seeds_text}" + (f"; {shlex.join(train_args)}" if train_args
                                                   else ""))
    print(markdown, end="")
    print(f"# wrote {sweep_dir}/results.md, results.json and curves.png", file=sys.stderr)


if __name__ == "__main__":
    # Ctrl-C (SIGINT) stops it even when started from a script's background job, which starts
    # with SIGINT ignored: the runs it starts handle SIGINT themselves (runs.py), so must it
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        main()
    except KeyboardInterrupt:   # outside the runs (reading the grid, writing the tables)
        make_band.stop_children()
        print("sweep.py: interrupted; run the same command again to resume", file=sys.stderr)
        sys.exit(130)
