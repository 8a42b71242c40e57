"""Speed of the LSTM implementations, measured side by side in one process.

    python bench.py                        # table on stdout
    python bench.py --json bench.json      # and the numbers as JSON

For each implementation (config.lstm_impl "basic" and "fast"), with the tutorial's config:
  bare  - a bare loop of session.run(train_op) over batches made beforehand;
  loop  - train_rnn.train, the real training loop (batching, feeding, the divergence check,
          display steps, progress), timed through its run hooks over the same number of steps.
Both are warmed up before they are timed: bare once, in its long-lived session; loop in every
repeat, since each repeat is a fresh train() with its own session (its first --warmup steps
are not timed). Repeats alternate between the implementations, so that machine noise hits both
alike; the table shows the median and the spread (min-max) of ms per step, the share of the
real loop's time spent outside session.run, and the process's peak memory after each
implementation.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
import types

import data
import runs
import train_rnn
from configurator import config_defaults
from make_band import cpu_model
from tf1 import tf, tf1, session_config


class TimedRun(runs.Run):
    """The training loop's Run, timing it: wall time and time inside session.run, from the end
    of step `warmup` to the last step."""

    def __init__(self, cfg, warmup):
        super().__init__(cfg, log=lambda line: None)
        self.warmup, self.inside, self.timing = warmup, 0.0, False

    def start(self, sess):
        run = sess.run

        def timed_run(*args, **kwargs):   # sess.run, adding up its time while timing
            start = time.perf_counter()
            try:
                return run(*args, **kwargs)
            finally:
                if self.timing:
                    self.inside += time.perf_counter() - start
        sess.run = timed_run
        return super().start(sess)

    def step_done(self, sess, step):
        if step == self.warmup:
            self.timing, self.t0 = True, time.perf_counter()
        elif step == self.cfg.training_steps:
            self.total = time.perf_counter() - self.t0
            self.timing = False
        super().step_done(sess, step)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux: KiB


class Bench:
    """One implementation's graph and session, ready to time."""

    def __init__(self, impl, mnist, steps, warmup):
        self.cfg = types.SimpleNamespace(**dict(config_defaults(), lstm_impl=impl,
                                                training_steps=steps))
        self.steps, self.warmup, self.mnist = steps, warmup, mnist
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.g = train_rnn.build_graph(self.cfg, seed=0)
            init = tf1.global_variables_initializer()
        self.sess = tf1.Session(graph=self.graph, config=session_config(self.cfg))
        self.sess.run(init)
        shape = (self.cfg.batch_size, self.cfg.timesteps, self.cfg.num_input)
        self.feeds = []
        for _ in range(steps):
            x, y = mnist.train.next_batch(self.cfg.batch_size)
            self.feeds.append({self.g["X"]: x.reshape(shape), self.g["Y"]: y})
        self.bare, self.loop, self.outside = [], [], []

    def warm_up(self):
        for feed in self.feeds[:self.warmup]:
            self.sess.run(self.g["train_op"], feed)

    def time_bare(self):
        train_op = self.g["train_op"]
        start = time.perf_counter()
        for feed in self.feeds:
            self.sess.run(train_op, feed)
        self.bare.append((time.perf_counter() - start) / len(self.feeds) * 1000)

    def time_loop(self):
        cfg = types.SimpleNamespace(**dict(vars(self.cfg),
                                           training_steps=self.warmup + self.steps))
        timed = TimedRun(cfg, self.warmup)
        train_rnn.train(cfg, 0, self.mnist, timed)
        self.loop.append(timed.total / self.steps * 1000)
        self.outside.append(1 - timed.inside / timed.total)


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
        mnist = data.read_data_sets(config_defaults()["data_dir"], seed=0)
    except data.DataError as e:
        parser.exit(1, f"bench.py: error: {e}\n")
    rss_before = peak_rss_mib()
    benches, peak = {}, {}
    for impl in args.impls:
        benches[impl] = Bench(impl, mnist, args.steps, max(args.warmup, 1))
        benches[impl].warm_up()
        benches[impl].time_loop()              # untimed: builds memory up, as a real run does
        peak[impl] = peak_rss_mib()
    for impl in args.impls:
        benches[impl].loop.clear()
        benches[impl].outside.clear()
    for r in range(args.repeats):              # alternate, so noise hits every impl alike
        for b in benches.values():
            b.time_bare()
            b.time_loop()
        print(f"# repeat {r + 1}/{args.repeats} done", file=sys.stderr)

    result = {
        "machine": {"cpu": cpu_model(), "cores": len(os.sched_getaffinity(0)),
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
        per_repeat = [l / b - 1 for l, b in zip(basic.loop, basic.bare)]
        over = statistics.median(basic.loop) / statistics.median(basic.bare) - 1
        result["basic_loop_over_bare"] = {"of_medians": over, "per_repeat": summary(per_repeat)}
        rows.append(f"basic: the real loop vs a bare session.run(train_op) loop: {over:+.1%} "
                    f"(ratio of the medians; per repeat {min(per_repeat):+.1%} .. "
                    f"{max(per_repeat):+.1%}, median {statistics.median(per_repeat):+.1%})")
    if {"basic", "fast"} <= set(benches):
        basic, fast = benches["basic"].bare, benches["fast"].bare
        ratios = [b / f for b, f in zip(basic, fast)]
        speedup = statistics.median(basic) / statistics.median(fast)
        result["fast_speedup"] = {"of_medians": speedup, "per_repeat": summary(ratios)}
        rows.append(f"fast vs basic (bare): {speedup:.2f}x the speed (ratio of the medians; "
                    f"per repeat {min(ratios):.2f}x .. {max(ratios):.2f}x, "
                    f"median {statistics.median(ratios):.2f}x)")
    print("\n".join(rows))
    if args.json:
        data.atomic_write_text(args.json, json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
