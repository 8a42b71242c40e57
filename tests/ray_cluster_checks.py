"""sweep.py and make_band.py on a real Ray cluster: a head and two worker nodes, separate
raylets on this machine (ray.cluster_utils.Cluster), started and stopped here.

Run by tests/test_cluster.py inside a network namespace of its own with only loopback up, so
that every node's traffic stays on 127.0.0.1; it passes the MNIST folder in CLUSTER_MNIST. Not
collected on its own (no test_ prefix).
"""
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import ROOT

MNIST = os.environ.get("CLUSTER_MNIST")
pytestmark = pytest.mark.skipif(not MNIST, reason="run by tests/test_cluster.py in its namespace")
GRID = ["optimizer=gradient_descent,adam", "num_hidden=16,24", "--seeds", "1"]
TIMING = ("ms_per_step", "versions", "machine", "created", "command")


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster
    # the head takes no runs: they go to the two worker nodes, one core each
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    workers = [c.add_node(num_cpus=1) for _ in range(2)]
    c.wait_for_nodes()
    yield c, workers
    c.shutdown()


def sweep(*args, background=False, one_core=False):
    """sweep.py with `args`; one_core: on one core of this machine (its runs get one each)."""
    cmd = [sys.executable, os.path.join(ROOT, "sweep.py"), *args]
    pin = (lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})) if one_core else None
    if background:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=ROOT, preexec_fn=pin)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT,
                          preexec_fn=pin)


def train_args(steps):
    return ["--", f"--training_steps={steps}", "--display_step=10", f"--data_dir={MNIST}"]


def without_timing(value):
    """results.json without what differs between two sweeps of the same runs: times, dates."""
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING}
    return [without_timing(v) for v in value] if isinstance(value, list) else value


def same_results(a, b, runs=4):
    runs_a, runs_b = sorted(os.listdir(a / "runs")), sorted(os.listdir(b / "runs"))
    assert runs_a == runs_b and len(runs_a) == runs
    for name in runs_a:
        assert (a / "runs" / name / "log.txt").read_text() == \
            (b / "runs" / name / "log.txt").read_text(), name
        config = [json.loads((d / "runs" / name / "config.json").read_text()) for d in (a, b)]
        for c, d in zip(config, (a, b)):
            assert c["config"]["runs_dir"] == str(d / "runs")   # each points at its own tree
            c["config"].pop("runs_dir")
        assert config[0] == config[1]
        assert any(f.startswith("ckpt-") for f in os.listdir(b / "runs" / name))
        assert any(f.startswith("events.") for f in os.listdir(b / "runs" / name))
    # the tables: equal but for the timing column
    ms = re.compile(r"\| [0-9.]+(?: ± [0-9.]+)? \| ([^|]+) \|$", re.M)   # ms per step | steps
    md = [ms.sub(r"| - | \1 |", (d / "results.md").read_text().split("\n", 1)[1])
          for d in (a, b)]
    assert md[0].count("| - |") == runs
    assert md[0] == md[1]
    js = [without_timing(json.loads((d / "results.json").read_text().replace(str(d), "<sweep>")))
          for d in (a, b)]
    assert js[0] == js[1]


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    folder = tmp_path_factory.mktemp("local")
    r = sweep(*GRID, "--sweep_dir", str(folder), *train_args(40))
    assert r.returncode == 0, r.stderr
    return folder


def run_folders(sweep_dir):
    """The sweep's run folders (not the hidden ones a folder is written in)."""
    runs = sweep_dir / "runs"
    return sorted(f for f in os.listdir(runs) if not f.startswith(".")) if runs.exists() else []


def test_an_interrupted_sweep_resumes_on_the_cluster_to_the_local_tables(cluster, local,
                                                                        tmp_path):
    """Ctrl-C once a run came back, then the same command: the runs not done go to the
    cluster, and the tables, logs and checkpoints are those of the same sweep run here."""
    p = sweep(*GRID, "--sweep_dir", str(tmp_path), "--ray", cluster[0].address,
              *train_args(40), background=True)
    deadline = time.time() + 300
    while time.time() < deadline and not run_folders(tmp_path):
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)   # Ctrl-C once one run came back
    out, err = p.communicate(timeout=300)
    assert p.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("sweep.py: interrupted")
    done = run_folders(tmp_path)
    assert 1 <= len(done) < 4
    assert sorted(os.listdir(tmp_path / "runs")) == done   # no half-written folder left
    r = sweep(*GRID, "--sweep_dir", str(tmp_path), "--ray", cluster[0].address, *train_args(40))
    assert r.returncode == 0, r.stderr
    assert f"{len(done)} of 4 runs already done" in r.stderr
    same_results(local, tmp_path)
    assert not [f for f in os.listdir(tmp_path / "runs") if ".tmp-" in f or ".old-" in f]


def test_a_worker_node_removed_while_its_run_trains(cluster, tmp_path, tmp_path_factory):
    """The node of the sweep's one run is removed mid-run; Ray runs it again on another. (One
    run here would get this machine's 2 cores; it asks the cluster for the 1 a node has.)"""
    c, workers = cluster
    workers.append(c.add_node(num_cpus=1))   # room for the lost run
    c.wait_for_nodes()
    nodes = {w.node_id[:8]: w for w in workers}
    grid = ["optimizer=adam", "--seeds", "1"]
    # long enough to outlast the node's removal: a run of 1000 steps once finished before it
    args = ["--", "--training_steps=3000", "--display_step=500", "--num_hidden=16",
            f"--data_dir={MNIST}"]
    p = sweep(*grid, "--sweep_dir", str(tmp_path), "--ray", c.address, *args, background=True)
    deadline, started = time.time() + 300, []
    while time.time() < deadline and not started:   # a run whose log has its first line
        started = [log for log in glob.glob(f"{tempfile.gettempdir()}/lstm-run-*/*/log.txt")
                   if os.path.basename(os.path.dirname(os.path.dirname(log)))[9:17] in nodes
                   and "Step 1," in open(log).read()]
        time.sleep(0.05)
    assert started, "no run started"
    doomed = nodes[os.path.basename(os.path.dirname(os.path.dirname(started[0])))[9:17]]
    c.remove_node(doomed)
    workers.remove(doomed)
    out, err = p.communicate(timeout=900)
    assert p.returncode == 0, err
    # the run on the removed node was cut: its training process died with the node
    time.sleep(1)
    assert "Optimization Finished!" not in open(started[0]).read()
    local = tmp_path_factory.mktemp("local_removed")
    r = sweep(*grid, "--sweep_dir", str(local), *args, one_core=True)
    assert r.returncode == 0, r.stderr
    same_results(local, tmp_path, runs=1)


def test_a_band_on_the_cluster_has_the_local_bands_seed_logs(cluster, tmp_path):
    logs = {}
    for where, extra in (("local", []), ("cluster", ["--ray", cluster[0].address])):
        r = subprocess.run([sys.executable, os.path.join(ROOT, "make_band.py"), "--seeds", "2",
                            "--out", str(tmp_path / where / "band.json"), *extra, "--",
                            "--training_steps=20", "--display_step=10", "--num_hidden=16",
                            f"--data_dir={MNIST}"], capture_output=True, text=True,
                           timeout=900, cwd=ROOT)
        assert r.returncode == 0, r.stderr
        logs[where] = {name: (tmp_path / where / "runs" / name).read_text()
                       for name in os.listdir(tmp_path / where / "runs")}
    assert sorted(logs["local"]) == ["seed_1.log", "seed_2.log", "train_args.json"]
    assert logs["cluster"] == logs["local"]
    bands = [json.loads((tmp_path / where / "band.json").read_text()) for where in logs]
    assert without_timing(bands[0]) == without_timing(bands[1])


def test_a_bad_address_is_one_line_before_anything_runs(tmp_path):
    r = sweep(*GRID, "--sweep_dir", str(tmp_path / "s"), "--ray", "127.0.0.1:9", *train_args(40))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith(
        "sweep.py: error: --ray 127.0.0.1:9: no Ray cluster answers there (")
    assert "Traceback" not in r.stderr and not (tmp_path / "s").exists()
