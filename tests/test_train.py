"""train_rnn.py and configurator.py: config overrides, the graph, a short real training,
reproducibility."""
import os
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest

from lstm_mnist import cli, published, runs, settings
import train_rnn
from conftest import ROOT, copy_project, tiny_config

STEP_LINE = re.compile(r"^Step \d+, Minibatch Loss= \d+\.\d{4}, Training Accuracy= \d\.\d{3}$")


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, os.path.join(ROOT, "train_rnn.py"), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


# --- config -----------------------------------------------------------------------------------

def test_overrides_are_typed():
    cfg, _ = cli.parse_config(["--training_steps=500", "--seed=3", "--learning_rate=1e-2"])
    assert cfg.training_steps == 500 and cfg.seed == 3 and cfg.learning_rate == 0.01
    assert cfg.batch_size == 128 and cfg.data_dir == "/tmp/data/"


@pytest.mark.parametrize("arg, message", [
    ("--trainig_steps=5", "unknown config key --trainig_steps (did you mean --training_steps?); "
                          "known keys: learning_rate, "),
    ("--learning_rat=0.1", "unknown config key --learning_rat (did you mean --learning_rate?)"),
    ("--zzz=1", "unknown config key --zzz; known keys: learning_rate, "),
    ("--batch_size=1.5", "argument --batch_size: expects an integer, got '1.5'\n"),
    ("--training_steps=10,000",
     "argument --training_steps: expects an integer, got '10,000'; write 10000\n"),
    ("--training_steps=1e3",
     "argument --training_steps: expects an integer, got '1e3'; write 1000\n"),
    ("--seed=7.0", "argument --seed: expects an integer or None, got '7.0'; write 7\n"),
    ("--learning_rate=0,5", "argument --learning_rate: expects a number, got '0,5'; write 0.5\n"),
    ("--learning_rate=fast", "argument --learning_rate: expects a number, got 'fast'"),
    ("--training_steps=0", "--training_steps must be a positive integer, got 0"),
    ("--batch_size=-1", "--batch_size must be a positive integer, got -1"),
    ("--display_step=0", "--display_step must be a positive integer"),
    ("--num_hidden=0", "--num_hidden must be a positive integer"),
    ("--batch_size=55001", "--batch_size must be between 1 and 55000 (the train set size)"),
    ("--learning_rate=inf", "--learning_rate must be a positive finite number, got inf"),
    ("--learning_rate=-0.1", "--learning_rate must be a positive finite number"),
    ("--timesteps=14", "--timesteps * --num_input must be 784"),
])
def test_bad_values_exit_2_with_one_line(arg, message, capsys):
    with pytest.raises(SystemExit) as e:
        cli.parse_config([arg])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_bad_value_trains_nothing(tmp_path):
    r = run_cli("--training_steps=-5", f"--data_dir={tmp_path}/d")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == ("train_rnn.py: error: --training_steps must be a positive "
                                "integer, got -5")
    assert not os.path.exists(tmp_path / "d")


def test_cli_missing_data_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = run_cli(f"--data_dir={blocker}/sub", "--seed=1", f"--runs_dir={tmp_path}/runs")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("train_rnn.py: error: cannot create data_dir")
    assert not os.path.exists(tmp_path / "runs")      # a run that can't start leaves no folder


# --- graph ------------------------------------------------------------------------------------

def test_graph_names_and_shapes():
    from lstm_mnist.tf1 import tf
    cfg = tiny_config(num_hidden=128)
    with tf.Graph().as_default():
        g = train_rnn.build_graph(cfg, seed=0)
        shapes = {v.name: v.shape.as_list() for v in tf.compat.v1.trainable_variables()}
    assert shapes == {"weights_out:0": [128, 10], "biases_out:0": [10],
                      "rnn/basic_lstm_cell/kernel:0": [156, 512],
                      "rnn/basic_lstm_cell/bias:0": [512]}
    assert g["X"].shape.as_list() == [None, 28, 28] and g["Y"].shape.as_list() == [None, 10]
    assert g["logits"].shape.as_list() == [None, 10] and g["loss_op"].shape.as_list() == []


def test_same_seed_same_initial_weights_different_seed_different():
    from lstm_mnist.tf1 import tf

    def initial(seed):
        with tf.Graph().as_default():
            train_rnn.build_graph(tiny_config(), seed)
            with tf.compat.v1.Session() as s:
                s.run(tf.compat.v1.global_variables_initializer())
                return s.run(tf.compat.v1.trainable_variables())
    a, b, c = initial(7), initial(7), initial(8)
    for x, y, z in zip(a, b, c):
        np.testing.assert_array_equal(x, y)
    kernel_a, kernel_c = a[2], c[2]
    assert not np.array_equal(kernel_a, kernel_c)
    limit = np.sqrt(6 / (156 - 128 + 32 + 4 * 32))   # glorot uniform on (28 + 32, 128)
    assert np.abs(kernel_a).max() <= limit and np.abs(kernel_a).max() > 0.9 * limit
    np.testing.assert_array_equal(a[3], 0)           # LSTM bias starts at zero


# --- training on real MNIST -------------------------------------------------------------------

def test_short_training_on_real_mnist_learns(mnist):
    lines = []
    cfg = tiny_config(training_steps=300, display_step=100, num_hidden=128)
    test_acc, full_acc = train_rnn.train(cfg, 1, mnist, runs.Run(cfg, log=lines.append))
    steps = [l for l in lines if l.startswith("Step ")]
    assert [l.split(",")[0] for l in steps] == ["Step 1", "Step 100", "Step 200", "Step 300"]
    assert all(STEP_LINE.match(l) for l in steps)
    losses = [float(l.split("Loss= ")[1].split(",")[0]) for l in steps]
    assert losses[-1] < losses[0] - 0.3, losses
    assert lines[-3] == "Optimization Finished!"
    assert lines[-2] == f"Testing Accuracy: {np.float32(test_acc)}"
    assert lines[-1].startswith("# Testing Accuracy on all 10000 test images: ")
    assert 0.15 < full_acc < 1.0


def test_divergence_names_the_step(mnist, monkeypatch):
    real_next_batch = mnist.train.next_batch
    calls = []

    def poisoned(batch_size):   # a NaN pixel in the third batch makes the loss NaN
        x, y = real_next_batch(batch_size)
        calls.append(1)
        return (np.full_like(x, np.nan) if len(calls) == 3 else x), y
    monkeypatch.setattr(mnist.train, "next_batch", poisoned)
    with pytest.raises(runs.TrainingDiverged, match=r"loss became nan at step 3; lower"):
        train_rnn.train(tiny_config(), 1, mnist, runs.Run(tiny_config(), log=lambda line: None))


@pytest.mark.slow
def test_a_seed_gives_its_own_log_and_the_command_that_repeats_it(mnist_dir):
    """(That the same seed prints the same log again, byte for byte, is test_impls's
    test_the_seed7_log_is_kept: a log from another process, committed.)"""
    args = ("--training_steps=200", "--display_step=50", "--seed=11", "--num_hidden=32",
            f"--data_dir={mnist_dir}", "--runs_dir=")   # no run folder: stdout, stderr are all
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == ("# seed 11; repeat this run with: python train_rnn.py --seed=11 "
                        "--training_steps=200 --display_step=50 --num_hidden=32 "
                        f"--data_dir={mnist_dir}")
    assert sum(bool(STEP_LINE.match(l)) for l in lines) == 5
    assert first.stderr == ""     # TensorFlow's start-up chatter is silenced
    other = run_cli(*args[:2], "--seed=12", *args[3:])
    assert other.stdout.splitlines()[1:] != lines[1:]


def test_published_values_are_config_pys():
    assert published.PUBLISHED == settings.config_defaults()


@pytest.mark.slow
def test_repeat_command_repeats_a_run_made_with_an_edited_config_py(tmp_path, mnist_dir):
    """Edit config.py, train, put config.py back: the printed command gives the same log."""
    project = copy_project(tmp_path / "project")
    config_py = project / "config.py"
    published = config_py.read_text()
    edited = (published.replace("num_hidden = 128", "num_hidden = 16")
              .replace("training_steps = 10000", "training_steps = 40")
              .replace("display_step = 200", "display_step = 20")
              .replace('data_dir = "/tmp/data/"', f'data_dir = "{mnist_dir}"'))
    assert edited.count("\n") == published.count("\n") and edited != published
    config_py.write_text(edited)

    def train(*args):
        r = subprocess.run([sys.executable, str(project / "train_rnn.py"), *args],
                           capture_output=True, text=True, timeout=300, cwd=project)
        assert r.returncode == 0, r.stderr
        return r.stdout
    first = train("--runs_dir=")
    config_py.write_text(published)
    command = re.match(r"# seed \d+; repeat this run with: (.*)$", first.splitlines()[0])[1]
    args = shlex.split(command)
    assert args[:2] == ["python", "train_rnn.py"]
    assert {"--num_hidden=16", "--training_steps=40", "--display_step=20"} <= set(args)
    assert train(*args[2:], "--runs_dir=") == first
