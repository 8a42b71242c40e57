"""make_band.py and sweep.py on a Ray cluster (tests/ray_cluster_checks.py), run inside a
network namespace of their own; and what --ray does without a cluster."""
import os
import re
import shutil
import subprocess
import sys
import types

import pytest

from conftest import ROOT
from lstm_mnist import atomic, cluster


@pytest.mark.slow
def test_the_cluster_checks_in_a_network_namespace_of_their_own(mnist_dir):
    """A head and worker nodes started by tests/ray_cluster_checks.py inside `unshare --net`
    with only loopback up: Ray's nodes find no other address, so all traffic is 127.0.0.1."""
    pytest.importorskip("ray")
    missing = [tool for tool in ("unshare", "ip") if not shutil.which(tool)]
    assert not missing, f"needs {missing} (util-linux, iproute2)"
    own_user = [] if os.geteuid() == 0 else ["--map-root-user"]
    inner = (f"ip link set lo up && exec {sys.executable} -m pytest -q -n 0 -p no:cacheprovider "
             "tests/ray_cluster_checks.py")
    r = subprocess.run(["unshare", "--net", *own_user, "sh", "-c", inner], cwd=ROOT,
                       env=dict(os.environ, CLUSTER_MNIST=mnist_dir), capture_output=True,
                       text=True, timeout=1500)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert re.search(r"^4 passed", r.stdout, re.M), r.stdout[-3000:]   # none skipped


@pytest.mark.parametrize("script", ["sweep.py", "make_band.py"])
def test_without_ray_nothing_imports_it(script, tmp_path):
    """The local default doesn't load Ray: -X importtime lists every module imported."""
    args = (["optimizer=adam", "--seeds", "1", "--sweep_dir", str(tmp_path)]
            if script == "sweep.py" else ["--seeds", "2", "--out", str(tmp_path / "b.json")])
    r = subprocess.run([sys.executable, "-X", "importtime", os.path.join(ROOT, script), *args,
                        "--", "--training_steps=bad"], capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    assert r.returncode == 2 and "training_steps" in r.stderr
    assert "import time:" in r.stderr and not re.search(r"\| +ray\b", r.stderr)


def test_write_folder_swaps_whole_folders_and_holds_ctrl_c(tmp_path):
    """A run folder coming back replaces the driver's copy whole; Ctrl-C during the swap is
    raised after it, and nothing temporary stays behind."""
    import signal
    run = tmp_path / "run"
    atomic.replace_folder(run, {"log.txt": b"old", "ckpt-1.index": b"1"})
    assert cluster.read_folder(run) == {"log.txt": b"old", "ckpt-1.index": b"1"}
    swapped = []
    with pytest.raises(KeyboardInterrupt):
        with atomic.ctrl_c_held():
            os.kill(os.getpid(), signal.SIGINT)
            atomic.replace_folder(run, {"log.txt": b"new", "sub/events.1": b"e"})
            swapped.append(True)
    assert swapped and cluster.read_folder(run) == {"log.txt": b"new", "sub/events.1": b"e"}
    with pytest.raises(TypeError):   # an error while writing: the old folder stays
        atomic.replace_folder(run, {"log.txt": "not bytes"})
    assert cluster.read_folder(run)["log.txt"] == b"new"
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_ctrl_c_between_the_two_renames_of_a_folder_swap(tmp_path, monkeypatch):
    """SIGINT arrives right after the old folder was moved aside: the new one still goes in,
    then Ctrl-C is raised; the old folder and the temporaries are gone."""
    import signal
    run = tmp_path / "run"
    atomic.replace_folder(run, {"log.txt": b"old"})
    real_replace, calls = os.replace, []

    def replace_then_ctrl_c(src, dst):
        real_replace(src, dst)
        calls.append(dst)
        if len(calls) == 1:   # the old folder is aside, the new one not yet in place
            os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(atomic.os, "replace", replace_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        atomic.replace_folder(run, {"log.txt": b"new"})
    assert len(calls) == 2 and cluster.read_folder(run) == {"log.txt": b"new"}
    assert sorted(os.listdir(tmp_path)) == ["run"]


class FakeRay(types.SimpleNamespace):
    """What cluster.py asks of the ray module, for a cluster of the given nodes."""
    def __init__(self, nodes):
        super().__init__(asked=[], shut=False, nodes=lambda: nodes, init=lambda **kw: None)

    def shutdown(self):
        self.shut = True

    def remote(self, num_cpus, max_retries):
        self.asked.append(num_cpus)
        return lambda fn: fn


def test_runs_ask_for_at_most_what_the_largest_node_has():
    """A run asking for more CPUs than any node has would wait forever: a sweep of one run
    from a 2-core machine on a cluster of 1-core workers hung (seen 2026-12-03)."""
    nodes = [{"Alive": True, "Resources": {"CPU": 1.0}}, {"Alive": True, "Resources": {"CPU": 3.0}},
             {"Alive": False, "Resources": {"CPU": 8.0}}, {"Alive": True, "Resources": {}}]
    for cores, asked in ((8, 3), (2, 2), (1, 1)):
        ray = FakeRay(nodes)
        assert list(cluster.run(ray, [], cores)) == [] and ray.asked == [asked]


def test_a_cluster_without_a_cpu_is_one_line(monkeypatch):
    ray = FakeRay([{"Alive": True, "Resources": {"CPU": 0.0}},
                   {"Alive": False, "Resources": {"CPU": 4.0}}])
    monkeypatch.setitem(sys.modules, "ray", ray)
    with pytest.raises(cluster.ClusterError) as e:
        cluster.connect("auto")
    assert str(e.value) == ("--ray auto: no node of that cluster has a CPU to train on; start a "
                            "worker with ray start --address=<the head's address>")
    assert ray.shut   # the driver left the cluster it joined
