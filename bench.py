"""Speed of the LSTM implementations, measured side by side in one process, beside the floor
that their matrix products set and beside PyTorch.

    python bench.py                        # table on stdout
    python bench.py --json bench.json      # and every number as JSON
    python bench.py --timeline             # also: where one step's time goes, op by op
    python bench.py --impls basic --models cell=gru bidirectional=True   # other models too

For each implementation (config.lstm_impl "basic", "fast" and "fused"), with the tutorial's
config, and for each model given with --models (e.g. --models cell=gru bidirectional=True):
  bare  - a bare loop of session.run(train_op) over batches made beforehand;
  loop  - train_rnn.train, the real training loop (batching, feeding, the divergence check,
          display steps, progress), timed through its run hooks over the same number of steps.
Beside them, over the same batches:
  floor   - one training step's matrix products alone, in numpy (OpenBLAS), batched as the fast
            path batches them, on 1 core and on all cores (the faster of BLAS threads and batch
            halves on threads): no element-wise work, no framework;
  peak FMA - this CPU's peak: a loop of nothing but fused multiply-adds in the widest vectors
            the fused op is built for (lstm_mnist/peak_fma.cc), on all cores at once and on 1;
            its ms per step is the floor's GFLOP at that rate, the limit no implementation can
            beat, and every implementation gets its ratio to it;
  pytorch - PyTorch's nn.LSTM + Linear, cross-entropy, SGD at the same learning rate, on all
            cores and on 1 (when torch is installed: pip install -r requirements-bench.txt).
Everything is warmed up before it is timed: bare once, in its long-lived session; loop in every
repeat, since each repeat is a fresh train() with its own session (its first --warmup steps are
not timed). Repeats alternate between all of them, so that machine noise hits each alike; the
table shows the median and the spread (min-max) of ms per step, the share of the real loop's
time spent outside session.run, the process's peak memory after each implementation, and the
bare loop's page faults per step (memory faulted in again: see lstm_mnist/tf1.py).
"""
import lstm_mnist  # noqa: F401  (first: a Ctrl-C while the rest loads is one line)
import json
import sys

import numpy as np

import data
from lstm_mnist import atomic, benchmarks, cli
from lstm_mnist.tf1 import tf


def arguments():
    parser = cli.ArgParser(prog="bench.py", description=__doc__)
    parser.add_argument("--steps", type=int, default=200, help="steps per timing (default 200)")
    parser.add_argument("--repeats", type=int, default=5, help="timings per implementation")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--impls", nargs="+", default=["basic", "fast", "fused"],
                        choices=["basic", "fast", "fused"])
    parser.add_argument("--models", nargs="+", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                        help="also time these models, each a row, e.g. cell=gru "
                        "bidirectional=True optimizer=adam,cell=basic_rnn")
    parser.add_argument("--timeline", action="store_true", help="also trace --steps steps of "
                        "each implementation and split their time by kind of op")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--data_dir", default=cli.defaults_or_exit()["data_dir"],
                        help="where the MNIST files are (default: config.py's)")
    return parser


def main(argv=None):
    parser = arguments()
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("--steps and --repeats must be at least 1, --warmup at least 0")
    models = {impl: {"lstm_impl": impl} for impl in args.impls}
    model_parser = cli.config_parser(prog="bench.py --models")
    for spec in args.models:   # checked as train_rnn.py checks them
        cfg, given = cli.parse_config([f"--{kv}" for kv in spec.split(",")], model_parser)
        models[spec] = {k: getattr(cfg, k) for k in given.explicit}
    try:
        mnist = data.read_data_sets(args.data_dir, seed=0)
    except data.DataError as e:
        parser.exit(1, f"bench.py: error: {e}\n")
    result, benches = benchmarks.measure(
        models, cli.defaults_or_exit(), mnist, args.steps, args.repeats, args.warmup,
        lambda r: print(f"# repeat {r + 1}/{args.repeats} done", file=sys.stderr))
    if "pytorch" not in " ".join(result["peers"]):
        print("# PyTorch is not installed: to time it beside ours, pip install -r "
              "requirements-bench.txt", file=sys.stderr)
    print(table(result, args))
    if args.timeline:
        result["timeline"] = {impl: benchmarks.timeline(b, args.steps)
                              for impl, b in benches.items()}
        for impl, t in result["timeline"].items():
            print(timeline_lines(impl, t))
    if args.json:
        atomic.write_text(args.json, json.dumps(result, indent=1) + "\n")


def table(result, args):
    """The table: each implementation's ms per step (bare and in the real loop), the peers',
    and the ratios measured side by side."""
    versions = result["versions"]
    width = max(18, *map(len, result["impls"]))
    rows = [f"# {result['machine']['cpu']}, {result['machine']['cores']} cores, TensorFlow "
            f"{tf.__version__}" + (f", PyTorch {versions['torch']}" if "torch" in versions else "")
            + f", numpy {np.__version__}; {args.repeats} repeats of {args.steps} steps",
            f"{'what':<{width}} {'bare ms/step':>13} {'(min-max)':>13} {'loop ms/step':>13} "
            f"{'(min-max)':>13} {'outside run':>12} {'peak RSS':>10} {'faults/step':>12}"]
    for impl, r in result["impls"].items():
        b, lp = r["bare_ms"], r["loop_ms"]
        rows.append(f"{impl:<{width}} {b['median']:>13.2f} {b['min']:>6.2f}-{b['max']:<6.2f} "
                    f"{lp['median']:>13.2f} {lp['min']:>6.2f}-{lp['max']:<6.2f} "
                    f"{r['outside_run_share']['median']:>11.1%} "
                    f"{r['peak_rss_mib_after']:>6.0f} MiB "
                    f"{r['page_faults_per_step']['median']:>12.1f}")
    for name, r in result["peers"].items():
        m = r["ms"]
        how = (f"  {r['gflop_per_step']:.2f} GFLOP, {r['gflop_per_step'] / m['median'] * 1000:.0f}"
               f" GFLOP/s ({r['fastest_way']})" if "gflop_per_step" in r else "")
        rows.append(f"{name:<{width}} {m['median']:>13.2f} {m['min']:>6.2f}-{m['max']:<6.2f}{how}")
    for key, label in result["ratio_labels"].items():
        per = result[key]["per_repeat"]
        rows.append(f"{label}: {result[key]['of_medians']:.2f} (ratio of the medians; "
                    f"per repeat {per['min']:.2f} .. {per['max']:.2f})")
    return "\n".join(rows)


def timeline_lines(impl, t):
    """Where one traced step's core time went, by kind of op."""
    lines = [f"\n# {impl}: one traced step, {t['wall_ms']:.1f} ms wall on {t['cores']} cores, "
             f"{t['ops_per_step']:.0f} ops; core time by kind of op (tracing slows each op a "
             "little)"]
    total = t["cores"] * t["wall_ms"]
    for kind, ms in list(t["core_ms"].items()) + [("no op running (cores waiting)",
                                                  t["idle_core_ms"])]:
        lines.append(f"  {kind:<45} {ms:7.2f} ms  {ms / total:6.1%}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
