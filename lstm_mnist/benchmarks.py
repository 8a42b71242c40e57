"""The timing behind bench.py: each LSTM implementation's training step in its own graph and
session, the floor its matrix products set (numpy), this CPU's peak (a loop of FMAs: the step's
products at that rate are the physical limit), PyTorch's nn.LSTM of the same model, and a
traced step split by kind of op. bench.py runs them side by side and prints the table.
"""
import collections
import concurrent.futures
import ctypes
import importlib.metadata
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import types

import numpy as np
from threadpoolctl import threadpool_limits

import train_rnn   # the tutorial's graph and loop: what is timed
from lstm_mnist import compiler, runner, runs
from lstm_mnist.tf1 import tf, tf1, session_config


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

    def __init__(self, defaults, overrides, mnist, steps, warmup):
        self.cfg = types.SimpleNamespace(**dict(defaults, **overrides,
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
        self.bare, self.loop, self.outside, self.faults = [], [], [], []

    def warm_up(self):
        for feed in self.feeds[:self.warmup]:
            self.sess.run(self.g["train_op"], feed)

    def time_bare(self):
        """ms per step of the bare loop, and its page faults per step (memory the process
        had handed back to the kernel and faults in again: tf1.reuse_freed_memory)"""
        train_op = self.g["train_op"]
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        for feed in self.feeds:
            self.sess.run(train_op, feed)
        self.bare.append((time.perf_counter() - start) / len(self.feeds) * 1000)
        self.faults.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)
                           / len(self.feeds))

    def time_loop(self):
        cfg = types.SimpleNamespace(**dict(vars(self.cfg),
                                           training_steps=self.warmup + self.steps))
        timed = TimedRun(cfg, self.warmup)
        train_rnn.train(cfg, 0, self.mnist, timed)
        self.loop.append(timed.total / self.steps * 1000)
        self.outside.append(1 - timed.inside / timed.total)


class Floor:
    """One training step's matrix products alone, in numpy, batched as the fast path batches
    them: the input projection of all timesteps and the kernel gradient of all timesteps are one
    product each; the recurrent product forward and its gradient backward, one a timestep
    (T - 1 each: the first state is zero); the output layer's three. Nothing else."""

    def __init__(self, cfg, cores):
        self.cfg, self.cores, self.times, self.how = cfg, cores, [], None
        B, T, I, H, C = (cfg.batch_size, cfg.timesteps, cfg.num_input, cfg.num_hidden,
                         cfg.num_classes)
        self.w = np.random.default_rng(0).standard_normal((I + H, 4 * H), dtype=np.float32)
        self.w_out = np.ones((H, C), np.float32)
        self.whole = self._arrays(B)
        self.halves = [self._arrays(B // cores + (k < B % cores)) for k in range(cores)]
        # 2 x the multiply-adds of the products in step()
        self.gflop = 2 * (T * B * I * 4 * H + 2 * (T - 1) * B * H * 4 * H
                          + (I + H + 1) * T * B * 4 * H + 3 * B * H * C) / 1e9

    def _arrays(self, n):
        """Inputs and outputs of the products for a batch of n rows, laid out as they are used."""
        T, I, H, C = self.cfg.timesteps, self.cfg.num_input, self.cfg.num_hidden, \
            self.cfg.num_classes
        rand = np.random.default_rng(n).standard_normal
        shapes = dict(x_all=(T * n, I), h=(T, n, H), dgates=(T * n, 4 * H),
                      xh1=(I + H + 1, T * n), dlogits=(n, C),                    # inputs
                      xw=(T * n, 4 * H), gates=(n, 4 * H), dh=(n, H), dw=(I + H + 1, 4 * H),
                      logits=(n, C), dw_out=(H, C), dh_last=(n, H))             # outputs
        return {k: rand(shape, dtype=np.float32) for k, shape in shapes.items()}

    def step(self, a):
        I, T = self.cfg.num_input, self.cfg.timesteps
        n = a["gates"].shape[0]
        w_h = self.w[I:]
        np.matmul(a["x_all"], self.w[:I], out=a["xw"])           # input projection, all steps
        for t in range(1, T):                                     # forward, one a timestep
            np.matmul(a["h"][t - 1], w_h, out=a["gates"])
        for t in range(T - 1, 0, -1):                             # backward: d h_{t-1}
            np.matmul(a["dgates"][t * n:(t + 1) * n], w_h.T, out=a["dh"])
        np.matmul(a["xh1"], a["dgates"], out=a["dw"])             # kernel and bias gradient
        np.matmul(a["h"][-1], self.w_out, out=a["logits"])        # output layer
        np.matmul(a["h"][-1].T, a["dlogits"], out=a["dw_out"])
        np.matmul(a["dlogits"], self.w_out.T, out=a["dh_last"])

    def _time(self, how, steps):
        with threadpool_limits(self.cores if how == "BLAS threads" else 1, user_api="blas"), \
                concurrent.futures.ThreadPoolExecutor(self.cores) as pool:
            start = time.perf_counter()
            for _ in range(steps):
                if how == "batch halves on threads":   # numpy lets go of the GIL in matmul
                    list(pool.map(self.step, self.halves))
                else:
                    self.step(self.whole)
            return (time.perf_counter() - start) / steps * 1000

    def warm_up(self, steps):
        self.time(steps)
        self.times.pop()

    def time(self, steps):
        ways = ["one thread"] if self.cores == 1 else ["BLAS threads", "batch halves on threads"]
        times = {how: self._time(how, steps) for how in ways}
        self.how = min(times, key=times.get)
        self.times.append(times[self.how])


class PeakFma:
    """This CPU's peak float rate: peak_fma.cc's loop of FMAs (the widest vectors the fused op is
    built for) on `cores` cores at once. As a time per step: the step's products (`gflop`, the
    floor's) at that rate, the limit that no implementation can beat."""

    ITERS = 10_000_000   # x 12 FMAs: about 0.06 s a core at AVX2's 2 FMAs a cycle

    def __init__(self, library, gflop, cores):
        self.library, self.gflop, self.cores, self.times = library, gflop, cores, []
        self.lanes = library.fma_lanes()
        self.how = f"{self.lanes}-float FMAs on {cores} {'core' if cores == 1 else 'cores'}"

    def rate(self):
        """GFLOP/s of all `cores` cores together, each running the loop at the same time (ctypes
        lets go of the GIL while it runs): the best of 3, after a pause in which the BLAS and
        OpenMP threads of what ran before stop spinning (they took up to a tenth of it)."""
        time.sleep(0.1)
        best = 0
        with concurrent.futures.ThreadPoolExecutor(self.cores) as pool:
            for _ in range(3):
                seconds = list(pool.map(self.library.fma_seconds, [self.ITERS] * self.cores))
                best = max(best, sum(self.ITERS * 12 * 2 * self.lanes / s for s in seconds) / 1e9)
        return best

    def warm_up(self, steps):
        self.rate()

    def time(self, steps):
        self.times.append(self.gflop / self.rate() * 1000)


def peak_fma_library():
    """peak_fma.cc built for this CPU and loaded (ctypes), or (None, why not)."""
    cxx = compiler.compiler()
    if not cxx:
        return None, "no C++ compiler (apt-get install g++)"
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peak_fma.cc")
    with tempfile.TemporaryDirectory() as folder:   # loaded, the file is no longer needed
        path = os.path.join(folder, "peak_fma.so")
        r = subprocess.run([cxx, "-O2", "-march=native", "-shared", "-fPIC", source, "-o", path],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return None, (r.stderr.strip().splitlines() or ["the build failed"])[-1]
        library = ctypes.CDLL(path)
    library.fma_seconds.restype, library.fma_seconds.argtypes = ctypes.c_double, [ctypes.c_long]
    return library, None


class TorchBench:
    """PyTorch's nn.LSTM of the same model, trained on the same batches: the peer."""

    def __init__(self, cfg, feeds, threads):
        import torch
        self.torch, self.threads, self.times = torch, threads, []
        torch.manual_seed(0)
        self.lstm = torch.nn.LSTM(cfg.num_input, cfg.num_hidden, batch_first=True)
        self.out = torch.nn.Linear(cfg.num_hidden, cfg.num_classes)
        params = list(self.lstm.parameters()) + list(self.out.parameters())
        self.optimizer = torch.optim.SGD(params, lr=cfg.learning_rate)
        self.loss = torch.nn.CrossEntropyLoss()
        self.batches = [(torch.from_numpy(x), torch.from_numpy(y.argmax(1))) for x, y in feeds]

    def train_step(self, x, y):
        self.optimizer.zero_grad()
        outputs, _ = self.lstm(x)                       # (B, T, H)
        self.loss(self.out(outputs[:, -1]), y).backward()
        self.optimizer.step()

    def _run(self, steps):
        self.torch.set_num_threads(self.threads)
        start = time.perf_counter()
        for x, y in self.batches[:steps]:
            self.train_step(x, y)
        return (time.perf_counter() - start) / min(steps, len(self.batches)) * 1000

    def warm_up(self, steps):
        self._run(steps)

    def time(self, steps):
        self.times.append(self._run(steps))


# op types by what they do, for the timeline
COPIES = {"Split", "SplitV", "ConcatV2", "Concat", "Transpose", "_MklTranspose", "Reshape",
          "Unpack", "Pack", "Slice", "StridedSlice", "Identity", "ZerosLike", "OnesLike", "Fill",
          "Tile", "Squeeze", "ExpandDims", "StridedSliceGrad", "ConcatOffset", "Shape"}
UPDATE = {"ResourceApplyGradientDescent", "ApplyGradientDescent"}
BOOKKEEPING = {"NoOp", "_Arg", "_Retval", "_Recv", "_Send", "Const", "ReadVariableOp",
               "Placeholder", "VarHandleOp", "Cast"}


def category(op_type):
    if op_type.startswith("FusedLstm"):
        return "the fused LSTM op (forward or gradient, all shards)"
    if "MatMul" in op_type:   # MatMul, _MklMatMul, _MklNativeFusedMatMul, BatchMatMulV2...
        return "matrix products"
    if op_type in COPIES:
        return "copies (split, concat, transpose, slices)"
    if op_type in UPDATE:
        return "weight update"
    if op_type in BOOKKEEPING:
        return "bookkeeping (reads, constants, no-ops)"
    return "element-wise and fused ops"


def timeline(b, steps):
    """Where one training step's time goes: TensorFlow's full trace of `steps` steps, each op's
    time added up by category, in ms per step; and the step's wall time, and the core time no
    op used (cores x wall - ops: cores waiting, e.g. one batch half for the other). The fused
    LSTM op runs its batch shards on as many cores at once: its time counts that many times."""
    cores = len(os.sched_getaffinity(0))
    options = tf1.RunOptions(trace_level=tf1.RunOptions.FULL_TRACE)
    busy, by_type, walls, ops = collections.Counter(), collections.Counter(), [], 0
    for feed in b.feeds[:steps]:
        meta = tf1.RunMetadata()
        b.sess.run(b.g["train_op"], feed, options=options, run_metadata=meta)
        nodes = [n for d in meta.step_stats.dev_stats for n in d.node_stats]
        walls.append((max(n.all_start_micros + n.all_end_rel_micros for n in nodes)
                      - min(n.all_start_micros for n in nodes)) / 1000)
        for n in nodes:
            op_type = n.timeline_label.partition("= ")[2].partition("(")[0] or n.node_name
            width = 1
            if op_type.startswith("FusedLstm"):
                width = min(cores, b.sess.graph.get_operation_by_name(n.node_name)
                            .get_attr("shards"))
            busy[category(op_type)] += width * n.all_end_rel_micros / 1000
            by_type[op_type] += width * n.all_end_rel_micros / 1000
        ops += len(nodes)
    per_step = {k: v / steps for k, v in busy.most_common()}
    wall = statistics.fmean(walls)
    return {"wall_ms": wall, "cores": cores, "ops_per_step": ops / steps,
            "core_ms": per_step, "idle_core_ms": cores * wall - sum(per_step.values()),
            "core_ms_by_op_type": {k: v / steps for k, v in by_type.most_common()}}


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "all": values}


def ratio(numerators, denominators):
    """Ratio of the medians, and the per-repeat ratios."""
    per_repeat = [a / b for a, b in zip(numerators, denominators)]
    return {"of_medians": statistics.median(numerators) / statistics.median(denominators),
            "per_repeat": summary(per_repeat)}


def ready_benches(models, defaults, mnist, steps, warmup):
    """{name: Bench} for each model ({name: its config overrides}), warmed up and trained once
    through the real loop (memory builds up as in a real run), with the process's peak memory
    after each."""
    benches, peak = {}, {}
    for name, overrides in models.items():
        benches[name] = Bench(defaults, overrides, mnist, steps, max(warmup, 1))
        benches[name].warm_up()
        benches[name].time_loop()
        peak[name] = peak_rss_mib()
    for b in benches.values():
        b.loop.clear()
        b.outside.clear()
    return benches, peak


def ready_peers(defaults, bench, warmup):
    """The peers on `bench`'s batches, warmed up: {name: peer}, and {kind: the peer on all cores
    that the fast paths are held against}. PyTorch's only where torch is installed."""
    cfg, cores = types.SimpleNamespace(**defaults), len(os.sched_getaffinity(0))
    peers = {f"floor, {cores} cores": Floor(cfg, cores), "floor, 1 core": Floor(cfg, 1)}
    all_cores = {"floor": f"floor, {cores} cores"}
    library, why_not = peak_fma_library()
    if library:
        gflop = peers["floor, 1 core"].gflop
        peers[f"peak FMA, {cores} cores"] = PeakFma(library, gflop, cores)
        peers["peak FMA, 1 core"] = PeakFma(library, gflop, 1)
        all_cores["peak"] = f"peak FMA, {cores} cores"
    else:
        print(f"# no peak-FMA row: {why_not}", file=sys.stderr)
    if importlib.util.find_spec("torch"):
        feeds = [(f[bench.g["X"]], f[bench.g["Y"]]) for f in bench.feeds]
        peers[f"pytorch, {cores} threads"] = TorchBench(cfg, feeds, cores)
        peers["pytorch, 1 thread"] = TorchBench(cfg, feeds, 1)
        all_cores["pytorch"] = f"pytorch, {cores} threads"
    for p in peers.values():
        p.warm_up(max(warmup, 1))
    return peers, all_cores


# (key in the result, label, numerator, denominator): the ratios bench.py prints, when it has
# both; "bare" and "loop" are an implementation's two timings, else a peer's name
RATIOS = [("basic_loop_vs_bare", "basic, ms per step: the real loop / a bare session.run(train_op)"
           " loop", ("basic", "loop"), ("basic", "bare")),
          ("fast_vs_basic", "ms per step, fast / basic (bare)", ("fast", "bare"),
           ("basic", "bare")),
          ("fused_vs_fast", "ms per step, fused / fast (bare)", ("fused", "bare"),
           ("fast", "bare"))]


def measure(models, defaults, mnist, steps, repeats, warmup, progress=lambda r: None):
    """Every model and peer timed side by side, `repeats` times alternating (so that noise hits
    each alike). Returns (the result, JSON-ready, ratios included; the Benches)."""
    rss_before = peak_rss_mib()
    benches, peak = ready_benches(models, defaults, mnist, steps, warmup)
    peers, all_cores = ready_peers(defaults, next(iter(benches.values())), warmup)
    for r in range(repeats):
        for b in benches.values():
            b.time_bare()
            b.time_loop()
        for p in peers.values():
            p.time(steps)
        progress(r)
    versions = runner.versions() | ({"torch": importlib.metadata.version("torch")}
                                    if "pytorch" in all_cores else {})
    result = {
        "machine": runner.machine(), "versions": versions,
        "steps_per_timing": steps, "repeats": repeats, "warmup": warmup,
        "peak_rss_mib_before": rss_before,
        "impls": {impl: {"bare_ms": summary(b.bare), "loop_ms": summary(b.loop),
                         "outside_run_share": summary(b.outside),
                         "page_faults_per_step": summary(b.faults),
                         "peak_rss_mib_after": peak[impl]} for impl, b in benches.items()},
        "peers": {name: dict(ms=summary(p.times), **({"gflop_per_step": p.gflop,
                                                     "fastest_way": p.how}
                                                    if isinstance(p, (Floor, PeakFma)) else {}))
                  for name, p in peers.items()},
        "ratio_labels": {}}
    times = {(impl, kind): getattr(b, kind) for impl, b in benches.items()
             for kind in ("bare", "loop")} | {(name, None): p.times for name, p in peers.items()}
    peak = all_cores.pop("peak", None)
    ratios = RATIOS + [(f"{impl}_vs_{peer}", f"ms per step, {impl} (bare) / {name}",
                        (impl, "bare"), (name, None))
                       for impl in ("fast", "fused") for peer, name in all_cores.items()]
    if peak:   # how far each is from the limit, PyTorch too
        ratios += [(f"{impl}_vs_peak", f"ms per step, {impl} (bare) / the {peak} limit",
                    (impl, "bare"), (peak, None)) for impl in benches]
        if "pytorch" in all_cores:
            ratios.append(("pytorch_vs_peak", f"ms per step, {all_cores['pytorch']} / the "
                           f"{peak} limit", (all_cores["pytorch"], None), (peak, None)))
    for key, label, a, b in ratios:
        if a in times and b in times:
            result[key] = ratio(times[a], times[b])
            result["ratio_labels"][key] = label
    return result, benches
