"""Speed of the LSTM implementations, measured side by side in one process.

    python bench.py                        # table on stdout
    python bench.py --json bench.json      # and the numbers as JSON

For each implementation (config.lstm_impl "basic" and "fast"), with the tutorial's config:
  bare  - a bare loop of session.run(train_op) over batches made beforehand;
  loop  - train_rnn.train_steps, the real training loop (batching, feeding, the divergence
          check, display steps, progress), over the same number of steps.
Repeats alternate between the implementations, so that machine noise hits both alike; the
table shows the median and the spread (min-max) of ms per step, the share of the real loop's
time spent outside session.run, and the process's peak memory after each implementation.
"""
import argparse
import json
import platform
import resource
import statistics
import sys
import time
import types

import train_rnn
from train_rnn import tf

import data
from make_band import cpu_model


class TimedSession:
    """A Session that adds up the time spent inside run()."""

    def __init__(self, sess):
        self.sess, self.inside = sess, 0.0

    def run(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.sess.run(*args, **kwargs)
        finally:
            self.inside += time.perf_counter() - start


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux: KiB


class Bench:
    """One implementation's graph and session, ready to time."""

    def __init__(self, impl, mnist, steps):
        self.cfg = types.SimpleNamespace(**dict(train_rnn.config_defaults(), lstm_impl=impl,
                                                training_steps=steps))
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.g = train_rnn.build_graph(self.cfg, seed=0)
            init = tf.compat.v1.global_variables_initializer()
        self.sess = tf.compat.v1.Session(graph=self.graph, config=train_rnn.session_config(self.cfg))
        self.sess.run(init)
        self.train_set = mnist.train
        shape = (self.cfg.batch_size, self.cfg.timesteps, self.cfg.num_input)
        self.feeds = []
        for _ in range(steps):
            x, y = mnist.train.next_batch(self.cfg.batch_size)
            self.feeds.append({self.g["X"]: x.reshape(shape), self.g["Y"]: y})
        self.bare, self.loop, self.outside = [], [], []

    def warm_up(self, n):
        for feed in self.feeds[:n]:
            self.sess.run(self.g["train_op"], feed)

    def time_bare(self):
        train_op = self.g["train_op"]
        start = time.perf_counter()
        for feed in self.feeds:
            self.sess.run(train_op, feed)
        self.bare.append((time.perf_counter() - start) / len(self.feeds) * 1000)

    def time_loop(self):
        timed = TimedSession(self.sess)
        out = train_rnn.RunOutputs(None, self.graph, self.cfg, log=lambda line: None)
        start = time.perf_counter()
        train_rnn.train_steps(timed, self.g, self.train_set, self.cfg, 1, out)
        total = time.perf_counter() - start
        self.loop.append(total / self.cfg.training_steps * 1000)
        self.outside.append(1 - timed.inside / total)


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "all": values}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200, help="steps per timing (default 200)")
    parser.add_argument("--repeats", type=int, default=5, help="timings per implementation")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--impls", nargs="+", default=["basic", "fast"],
                        choices=["basic", "fast"])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("--steps and --repeats must be at least 1, --warmup at least 0")

    try:
        mnist = data.read_data_sets(train_rnn.config.data_dir, seed=0)
    except data.DataError as e:
        parser.exit(1, f"bench.py: error: {e}\n")
    rss_before = peak_rss_mib()
    benches, peak = {}, {}
    for impl in args.impls:
        benches[impl] = Bench(impl, mnist, args.steps)
        benches[impl].warm_up(args.warmup)
        benches[impl].time_bare()              # the first timing also builds memory up
        peak[impl] = peak_rss_mib()
    for impl in args.impls:
        benches[impl].bare.clear()
    for r in range(args.repeats):              # alternate, so noise hits every impl alike
        for b in benches.values():
            b.time_bare()
            b.time_loop()
        print(f"# repeat {r + 1}/{args.repeats} done", file=sys.stderr)

    result = {
        "machine": {"cpu": cpu_model(), "cores": len(train_rnn.os.sched_getaffinity(0)),
                    "python": platform.python_version(), "tensorflow": tf.__version__},
        "steps_per_timing": args.steps, "repeats": args.repeats, "warmup": args.warmup,
        "peak_rss_mib_before": rss_before,
        "impls": {impl: {"bare_ms": summary(b.bare), "loop_ms": summary(b.loop),
                         "outside_run_share": summary(b.outside),
                         "peak_rss_mib_after": peak[impl]} for impl, b in benches.items()},
    }
    rows = [f"# {result['machine']['cpu']}, {result['machine']['cores']} cores, "
            f"TensorFlow {tf.__version__}; {args.repeats} repeats of {args.steps} steps",
            f"{'impl':<6} {'bare ms/step':>13} {'(min-max)':>13} {'loop ms/step':>13} "
            f"{'(min-max)':>13} {'outside run':>12} {'peak RSS':>10}"]
    for impl, r in result["impls"].items():
        b, l = r["bare_ms"], r["loop_ms"]
        rows.append(f"{impl:<6} {b['median']:>13.2f} {b['min']:>6.2f}-{b['max']:<6.2f} "
                    f"{l['median']:>13.2f} {l['min']:>6.2f}-{l['max']:<6.2f} "
                    f"{r['outside_run_share']['median']:>11.1%} "
                    f"{r['peak_rss_mib_after']:>6.0f} MiB")
    if "basic" in benches:
        basic = benches["basic"]
        over = statistics.median(l / b - 1 for l, b in zip(basic.loop, basic.bare))
        result["basic_loop_over_bare"] = over
        rows.append(f"basic: the real loop vs a bare session.run(train_op) loop: {over:+.1%}")
    if {"basic", "fast"} <= set(benches):
        ratios = [b / f for b, f in zip(benches["basic"].bare, benches["fast"].bare)]
        result["fast_speedup"] = summary(ratios)
        rows.append(f"fast vs basic: {statistics.median(ratios):.2f}x the speed "
                    f"(per-repeat ratios {min(ratios):.2f}-{max(ratios):.2f}x)")
    print("\n".join(rows))
    if args.json:
        data.atomic_write_text(args.json, json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
