"""bench.py: the matrix-product floor, the timeline's split, the table and JSON. Speeds are not
asserted (these machines are noisy); that the numbers are made the right way is."""
import json
import types

import numpy as np
import pytest

import bench
from lstm_mnist.settings import config_defaults
from lstm_mnist import benchmarks


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
    assert len(fast) == len(floor) == 2
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


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        return next((line for line in f if line.startswith("flags")), "").split()


def test_peak_fma_counts_this_cpus_widest_fmas():
    """The peak row: 12 chains of FMAs in the widest vectors the op is built with, each FMA 2
    float operations a lane; its ms per step is the step's GFLOP at that rate."""
    library, why_not = benchmarks.peak_fma_library()
    assert library, why_not
    lanes = 16 if "avx512f" in cpu_flags() else 8
    assert library.fma_lanes() == lanes
    peak = benchmarks.PeakFma(library, gflop=1.59, cores=1)
    iters = 2_000_000
    by_hand = iters * 12 * lanes * 2 / library.fma_seconds(iters) / 1e9   # GFLOP/s
    rate = peak.rate()
    assert 0.67 < rate / by_hand < 1.5
    assert rate < 2 * lanes * 2 * 6.0   # two FMA units at 6 GHz: nothing runs faster
    peak.time(steps=1)
    assert peak.times[0] == pytest.approx(1.59 / rate * 1000, rel=0.5)
    assert peak.how == f"{lanes}-float FMAs on 1 core"


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
