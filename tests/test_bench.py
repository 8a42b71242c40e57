"""bench.py: the matrix-product floor, the timeline's split, the table and JSON; the memory
set-up that keeps a step's freed tensors for the next. Speeds are not asserted (these machines
are noisy); that the numbers are made the right way is, and page faults are counted."""
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

import bench
from lstm_mnist.settings import config_defaults
from lstm_mnist import benchmarks, compiler
from conftest import ROOT


def test_the_floor_counts_the_fast_paths_products():
    cfg = types.SimpleNamespace(**config_defaults())
    floor = benchmarks.Floor(cfg, cores=2)
    # by hand, B=128, T=28, I=28, H=128: input projection 3584x28x512; 27 recurrent products
    # forward and 27 backward, 128x128x512 each; kernel and bias gradient 157x3584x512; the
    # output layer's three 128x128x10
    macs = 3584 * 28 * 512 + 2 * 27 * 128 * 128 * 512 + 157 * 3584 * 512 + 3 * 128 * 128 * 10
    assert floor.gflop == pytest.approx(2 * macs / 1e9) and round(floor.gflop, 2) == 1.59
    assert [a["gates"].shape for a in floor.halves] == [(64, 512), (64, 512)]
    for arrays in [floor.whole] + floor.halves:   # each product lands where it should
        floor.step(arrays)
        np.testing.assert_allclose(arrays["dw"], arrays["xh1"] @ arrays["dgates"], rtol=1e-4,
                                   atol=1e-3)
        np.testing.assert_allclose(arrays["xw"], arrays["x_all"] @ floor.w[:28], rtol=1e-4,
                                   atol=1e-4)
        np.testing.assert_allclose(arrays["gates"], arrays["h"][-2] @ floor.w[28:], rtol=1e-4,
                                   atol=1e-3)
    floor.time(steps=2)
    assert floor.how in ("BLAS threads", "batch halves on threads") and floor.times[0] > 0


@pytest.mark.parametrize("op_type, kind", [
    ("MatMul", "matrix products"), ("_MklNativeFusedMatMul", "matrix products"),
    ("ConcatV2", "copies (split, concat, transpose, slices)"),
    ("Split", "copies (split, concat, transpose, slices)"),
    ("LSTMBlockCellGrad", "element-wise and fused ops"), ("Sigmoid", "element-wise and fused ops"),
    ("ResourceApplyGradientDescent", "weight update"),
    ("ReadVariableOp", "bookkeeping (reads, constants, no-ops)"),
    ("FusedLstm", "the fused LSTM op (forward or gradient, all shards)"),
    ("FusedLstmGrad", "the fused LSTM op (forward or gradient, all shards)")])
def test_ops_are_split_by_kind(op_type, kind):
    assert benchmarks.category(op_type) == kind


@pytest.mark.slow
def test_bench_runs_end_to_end_and_says_how_to_add_pytorch(mnist_dir, tmp_path, monkeypatch,
                                                            capsys):
    real_find_spec = benchmarks.importlib.util.find_spec
    monkeypatch.setattr(benchmarks.importlib.util, "find_spec",
                        lambda name: None if name == "torch" else real_find_spec(name))
    out = tmp_path / "bench.json"
    bench.main(["--steps", "3", "--repeats", "2", "--warmup", "1", "--impls", "fast", "fused",
                "--models", "cell=gru,bidirectional=True", "--timeline", "--json", str(out),
                "--data_dir", mnist_dir])
    printed = capsys.readouterr()
    assert "PyTorch is not installed: to time it beside ours, pip install -r " \
           "requirements-bench.txt" in printed.err
    result = json.loads(out.read_text())
    cores = result["machine"]["cores"]
    assert set(result["peers"]) == {f"floor, {cores} cores", "floor, 1 core",
                                    f"peak FMA, {cores} cores", "peak FMA, 1 core"}
    fast = result["impls"]["fast"]["bare_ms"]["all"]
    floor = result["peers"][f"floor, {cores} cores"]["ms"]["all"]
    faults = result["impls"]["fast"]["page_faults_per_step"]["all"]
    assert len(fast) == len(floor) == len(faults) == 2
    assert "faults/step" in printed.out
    assert result["fast_vs_floor"]["of_medians"] == pytest.approx(np.median(fast) /
                                                                  np.median(floor))
    fused = result["impls"]["fused"]["bare_ms"]["all"]
    assert result["fused_vs_fast"]["of_medians"] == pytest.approx(np.median(fused) /
                                                                  np.median(fast))
    assert result["fused_vs_floor"]["of_medians"] == pytest.approx(np.median(fused) /
                                                                   np.median(floor))
    peak = result["peers"][f"peak FMA, {cores} cores"]["ms"]["all"]
    for impl in result["impls"]:   # every implementation against the limit
        assert result[f"{impl}_vs_peak"]["of_medians"] == pytest.approx(
            np.median(result["impls"][impl]["bare_ms"]["all"]) / np.median(peak))
    assert "limit" in printed.out
    assert list(result["impls"]) == ["fast", "fused", "cell=gru,bidirectional=True"]
    assert len(result["impls"]["cell=gru,bidirectional=True"]["loop_ms"]["all"]) == 2
    timeline = result["timeline"]["fast"]
    assert timeline["core_ms"]["matrix products"] > 0 and timeline["ops_per_step"] > 100
    used = sum(timeline["core_ms"].values()) + timeline["idle_core_ms"]
    assert used == pytest.approx(timeline["cores"] * timeline["wall_ms"])
    fused_ops = result["timeline"]["fused"]["core_ms_by_op_type"]
    assert set(fused_ops) >= {"FusedLstm", "FusedLstmGrad"} and "Sigmoid" not in fused_ops
    assert f"floor, {cores} cores" in printed.out and "matrix products" in printed.out


# A "step" in a fresh process: three 8 MB blocks allocated, written and freed, as a training
# step's tensors are; prints the page faults of five steps after two of warm-up.
STEPS_OF_BIG_BLOCKS = """
import ctypes, resource, sys
if sys.argv[1] == "with_tf1":
    import lstm_mnist.tf1
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def step():
    blocks = [libc.malloc(8 << 20) for _ in range(3)]
    for b in blocks:
        ctypes.memset(b, 1, 8 << 20)
    for b in blocks:
        libc.free(b)
for _ in range(2):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_tensors_are_kept_for_the_next_step():
    """Importing lstm_mnist.tf1 makes malloc keep freed blocks: after two steps, no page faults.
    Without it, glibc hands 16 of the 24 MB back to the kernel each step (faults: 4 KB pages)."""
    def faults(how):
        out = subprocess.run([sys.executable, "-c", STEPS_OF_BIG_BLOCKS, how], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        return int(out)
    assert faults("with_tf1") < 100
    assert faults("without") > 5 * (8 << 20) // os.sysconf("SC_PAGE_SIZE")


def test_peak_fma_counts_this_cpus_widest_fmas():
    """The peak row's loop is built with the widest vectors the op is built with, and no core
    can run it faster than two FMA units at 6 GHz could."""
    library, why_not = benchmarks.peak_fma_library()
    assert library, why_not
    lanes = 16 if "avx512f" in compiler.cpu_flags() else 8
    assert library.fma_lanes() == lanes
    seconds = library.fma_seconds(1_000_000)
    assert 0 < seconds and 1_000_000 * 12 * lanes * 2 / seconds / 1e9 < 2 * lanes * 2 * 6.0


def test_peak_fma_rate_and_limit_are_counted_right():
    """Each FMA is 2 float operations a lane, 12 a loop turn, every core's rate added up; the
    limit is the step's GFLOP at that rate. A stand-in loop that takes 0.1 s on each core."""
    loop = types.SimpleNamespace(fma_lanes=lambda: 8, fma_seconds=lambda iters: 0.1)
    peak = benchmarks.PeakFma(loop, gflop=1.59, cores=2)
    per_core = benchmarks.PeakFma.ITERS * 12 * 8 * 2 / 0.1 / 1e9
    assert peak.rate() == pytest.approx(2 * per_core)
    peak.time(steps=1)
    assert peak.times == [pytest.approx(1.59 / (2 * per_core) * 1000)]
    assert peak.how == "8-float FMAs on 2 cores"


def test_without_a_compiler_there_is_no_peak_row(monkeypatch):
    monkeypatch.setattr(benchmarks.compiler, "compiler", lambda: None)
    assert benchmarks.peak_fma_library() == (None, "no C++ compiler (apt-get install g++)")


def test_pytorch_peer_trains_the_same_model():
    torch = pytest.importorskip("torch")
    cfg = types.SimpleNamespace(**config_defaults())
    rng = np.random.default_rng(0)
    x = rng.random((128, 28, 28), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]
    peer = benchmarks.TorchBench(cfg, [(x, y)] * 3, threads=1)
    assert sum(p.numel() for p in peer.lstm.parameters()) == 4 * 128 * (28 + 128 + 2)
    before = [p.detach().clone() for p in peer.lstm.parameters()]
    peer.time(3)
    assert all(not torch.equal(a, b) for a, b in zip(before, peer.lstm.parameters()))
    assert peer.optimizer.param_groups[0]["lr"] == cfg.learning_rate and peer.times[0] > 0


def test_a_bad_model_stops_before_anything_runs(capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(["--models", "cell=gur"])
    assert e.value.code == 2 and capsys.readouterr().err == (
        "bench.py --models: error: --cell must be one of basic_lstm, lstm, gru, basic_rnn, got "
        "'gur' (did you mean gru?)\n")
