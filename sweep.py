"""Train every combination of some config values, for some seeds each, and tabulate them.

    python sweep.py optimizer=gradient_descent,adam cell=basic_lstm,gru --seeds 2
    python sweep.py learning_rate=0.0005,0.001,0.002 --seeds 3 -- --training_steps=3000
    python sweep.py optimizer:learning_rate=gradient_descent:0.001,adam:0.001   # paired values

`key=a,b` gives key the values a and b; keys side by side multiply (every combination). Keys
joined with ':' take their values together: `optimizer:learning_rate=adam:0.001,momentum:0.01`
is two combinations, not four. Arguments after `--` go to every run of train_rnn.py.

Runs go as parallel processes, each pinned to its share of the cores (lstm_mnist/runner.py),
into run folders <sweep_dir>/runs/<combination>-seed<N> with their checkpoints and TensorBoard
events (tensorboard --logdir <sweep_dir>/runs). Finished runs are kept: the same command after
a stop resumes, and a longer grid in the same folder trains only what is new. The sweep folder
gets results.md (the table, also printed), results.json (every number) and curves.png (each
combination's mean minibatch loss and training accuracy).

With --ray ADDRESS (auto: the cluster `ray start --head` started here) the runs go to a Ray
cluster instead (lstm_mnist/cluster.py), each with the cores it would get here; their folders
come back.
"""
import datetime
import json
import os
import shlex
import sys

from lstm_mnist import atomic, cli, runner, sweeps
from lstm_mnist.runs import RunError
from lstm_mnist.tutorial_log import LogError


def arguments():
    parser = cli.ArgParser(prog="sweep.py", description=__doc__)
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
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    own, train_args = cli.split_at_dashes(argv)
    parser = arguments()
    args = parser.parse_args(own)
    if args.seeds < 1 or args.jobs < 1 or not 0 <= args.first_seed < 2**31 - args.seeds:
        parser.error("--seeds and --jobs must be at least 1, --first_seed a seed (>= 0)")
    cli.defaults_or_exit()   # a broken config.py: its line, before the grid's
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    sweep_dir = args.sweep_dir or sweeps.default_sweep_dir(args.grid, train_args)
    try:
        plan = sweeps.plan_sweep(sweeps.parse_grid(args.grid), seeds, train_args, sweep_dir)
        ray = cli.ray_cluster(parser, args.ray)   # before anything is written: a bad address, exit 2
        sweeps.claim_folder(plan)
    except (sweeps.SweepError, RunError) as e:
        parser.error(str(e))
    todo = sweeps.todo(plan)
    print(f"# sweep folder {sweep_dir}: {len(plan.combinations)} combination(s) x {len(seeds)} "
          f"seed(s); {len(plan.runs) - len(todo)} of {len(plan.runs)} runs already done; running "
          f"{len(todo)} in {min(len(runner.core_slots(args.jobs, len(plan.runs))), len(todo))} "
          "parallel process(es)",
          file=sys.stderr, flush=True)
    try:
        sweeps.run_sweep(plan, args.jobs, ray)
    except (RuntimeError, LogError) as e:
        parser.exit(1, f"sweep.py: error: {e}; finished runs are kept, run the same command "
                       "again to resume\n")
    except KeyboardInterrupt:   # the runs were stopped: each saved a checkpoint
        parser.exit(130, "sweep.py: interrupted; the runs saved checkpoints, run the same "
                         "command again to resume\n")
    write_results(plan, shlex.join(["python", "sweep.py", *argv]), args.grid)


def write_results(plan, command, grid):
    """results.md, results.json and curves.png in the sweep folder; the table printed."""
    rows = sweeps.collect(plan)
    markdown = sweeps.table(rows)
    atomic.write_text(os.path.join(plan.sweep_dir, "results.md"), f"`{command}`\n\n{markdown}")
    atomic.write_text(os.path.join(plan.sweep_dir, "results.json"), json.dumps({
        "command": command, "grid": grid, "train_args": plan.train_args, "seeds": plan.seeds,
        "rows": rows, "versions": runner.versions(), "machine": runner.machine(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }, indent=1) + "\n")
    seeds = f"{len(plan.seeds)} seed{'s' if len(plan.seeds) > 1 else ''}"
    sweeps.plot(rows, os.path.join(plan.sweep_dir, "curves.png"), f"{' '.join(grid)}, {seeds}"
                + (f"; {shlex.join(plan.train_args)}" if plan.train_args else ""))
    print(markdown, end="")
    print(f"# wrote {plan.sweep_dir}/results.md, results.json and curves.png", file=sys.stderr)


if __name__ == "__main__":
    runner.stop_on_ctrl_c()
    try:
        main()
    except KeyboardInterrupt:   # outside the runs (reading the grid, writing the tables)
        runner.stop_children()
        print("sweep.py: interrupted; run the same command again to resume", file=sys.stderr)
        sys.exit(130)
