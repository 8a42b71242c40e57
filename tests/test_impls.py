"""The "fast" and "fused" LSTMs against the tutorial's "basic" one and an independent numpy LSTM;
the seed-7 logs of all three."""
import os
import subprocess
import sys

import numpy as np
import pytest
from lstm_mnist import runs
import train_rnn
from lstm_mnist.tf1 import tf
from conftest import ROOT, tiny_config

tf1 = tf.compat.v1


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_loss(x, y, kernel, bias, w_out, b_out, forget_bias=1.0):
    """The tutorial's forward pass written out in float64 numpy: the oracle."""
    batch, timesteps, _ = x.shape
    hidden = kernel.shape[1] // 4
    h = c = np.zeros((batch, hidden))
    for t in range(timesteps):
        gates = np.concatenate([x[:, t], h], 1) @ kernel + bias
        i, j, f, o = np.split(gates, 4, axis=1)        # TF1's gate order
        c = c * sigmoid(f + forget_bias) + sigmoid(i) * np.tanh(j)
        h = np.tanh(c) * sigmoid(o)
    logits = h @ w_out + b_out
    m = logits.max(1, keepdims=True)
    log_z = m[:, 0] + np.log(np.exp(logits - m).sum(1))
    return np.mean(log_z - (y * logits).sum(1))


def oracle(weights, x, y, forget_bias=1.0):
    """numpy_loss of a batch with the variables of `weights` ({name: float32 array})."""
    return numpy_loss(x.astype(np.float64), y, *(weights[k].astype(np.float64) for k in
                                                  ("kernel", "bias", "w_out", "b_out")),
                      forget_bias=forget_bias)


@pytest.fixture(scope="module")
def weights_and_batch(_mnist_loaded):
    mnist, _ = _mnist_loaded      # test images only: no batch state involved
    rng = np.random.RandomState(0)
    weights = {"kernel": rng.uniform(-0.15, 0.15, (156, 512)),
               "bias": rng.normal(0, 0.3, 512),           # non-zero, so the bias path counts
               "w_out": rng.normal(0, 1, (128, 10)), "b_out": rng.normal(0, 1, 10)}
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    x = mnist.test.images[:64].reshape(64, 28, 28)
    y = mnist.test.labels[:64]
    return weights, x, y


def loss_and_grads(impl, weights, batches):
    """The loss and the gradients of every trainable variable, for each (x, y) of `batches`."""
    cfg = tiny_config(lstm_impl=impl, num_hidden=weights["w_out"].shape[0])
    with tf.Graph().as_default():
        g = train_rnn.build_graph(cfg, seed=0)
        variables = dict(zip(("w_out", "b_out", "kernel", "bias"), tf1.trainable_variables()))
        grads = tf.gradients(g["loss_op"], list(variables.values()))
        with tf1.Session() as sess:
            for name, var in variables.items():
                var.load(weights[name], sess)
            results = [sess.run([g["loss_op"], grads], {g["X"]: x, g["Y"]: y})
                       for x, y in batches]
    return [(loss, dict(zip(variables, grad_values))) for loss, grad_values in results]


# the tutorial's cell, other ops; the fused op's build takes a minute: the full suite's
SAME_MATH = ("fast", pytest.param("fused", marks=pytest.mark.slow))


def test_trainable_variables_are_the_tutorials():
    same_math = ("fast", "fused")   # this test is slow already: the fused op with the rest
    for impl in ("basic", *same_math):
        with tf.Graph().as_default():
            train_rnn.build_graph(tiny_config(lstm_impl=impl, num_hidden=128), seed=0)
            names = [(v.name, v.shape.as_list()) for v in tf1.trainable_variables()]
        assert names == [("weights_out:0", [128, 10]), ("biases_out:0", [10]),
                         ("rnn/basic_lstm_cell/kernel:0", [156, 512]),
                         ("rnn/basic_lstm_cell/bias:0", [512])], impl


@pytest.mark.parametrize("impl", SAME_MATH)
def test_basic_and_impl_equal_the_numpy_lstm(impl, weights_and_batch):
    weights, x, y = weights_and_batch
    expected = oracle(weights, x, y)
    (basic_loss, basic_grads), = loss_and_grads("basic", weights, [(x, y)])
    (loss, grads), = loss_and_grads(impl, weights, [(x, y)])
    assert abs(basic_loss - expected) < 1e-5 and abs(loss - expected) < 1e-5
    assert abs(basic_loss - loss) < 1e-5
    for name in basic_grads:
        assert np.abs(basic_grads[name]).max() > 1e-3, name      # a gradient that is there
        np.testing.assert_allclose(grads[name], basic_grads[name], atol=1e-4, rtol=0,
                                   err_msg=name)


@pytest.mark.slow
def test_odd_sizes_equal_the_numpy_lstm(weights_and_batch):
    """The fused op at num_hidden 10 (4H = 40: no whole number of 16-float vectors or GEMM
    tiles) and batches of 5 and 1 (shards of 2 and 3 rows; one empty shard): every loop's tail."""
    _, images, labels = weights_and_batch
    rng = np.random.RandomState(1)
    weights = {"kernel": rng.uniform(-0.4, 0.4, (38, 40)), "bias": rng.normal(0, 0.3, 40),
               "w_out": rng.normal(0, 1, (10, 10)), "b_out": rng.normal(0, 1, 10)}
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    batches = [(images[:rows], labels[:rows]) for rows in (5, 1)]
    basic, fused = (loss_and_grads(impl, weights, batches) for impl in ("basic", "fused"))
    for (x, y), (basic_loss, basic_grads), (loss, grads) in zip(batches, basic, fused):
        expected = oracle(weights, x, y)
        assert abs(loss - expected) < 1e-5 and abs(basic_loss - expected) < 1e-5, len(x)
        for name in basic_grads:
            np.testing.assert_allclose(grads[name], basic_grads[name], atol=1e-4, rtol=0,
                                       err_msg=f"{name}, {len(x)} rows")


def test_numpy_oracle_sees_a_changed_forget_bias(weights_and_batch):
    """The oracle is sensitive to what we compare: forget_bias changes the loss."""
    weights, x, y = weights_and_batch
    assert abs(oracle(weights, x, y) - oracle(weights, x, y, forget_bias=0.0)) > 1e-3


@pytest.mark.slow
def test_300_steps_trajectories_agree(mnist_dir):
    import data
    losses = {}
    same_math = ("fast", "fused")   # this test is slow already: the fused op with the rest
    for impl in ("basic", *same_math):
        mnist = data.read_data_sets(mnist_dir, seed=4, mirrors=())   # the same batches
        lines = []
        cfg = tiny_config(lstm_impl=impl, num_hidden=128, training_steps=300, display_step=20)
        train_rnn.train(cfg, 4, mnist, runs.Run(cfg, log=lines.append))
        losses[impl] = [float(l.split("Loss= ")[1].split(",")[0]) for l in lines
                        if l.startswith("Step ")]
    assert len(losses["basic"]) == 16
    for impl in same_math:
        np.testing.assert_allclose(losses[impl], losses["basic"], atol=1e-3, rtol=0,
                                   err_msg=impl)
    assert losses["basic"][-1] < losses["basic"][0]


@pytest.mark.parametrize("saved,restored", [
    ("fast", "basic"), pytest.param("fused", "basic", marks=pytest.mark.slow),
    pytest.param("basic", "fused", marks=pytest.mark.slow)])
def test_checkpoint_moves_between_implementations(saved, restored, tmp_path, weights_and_batch):
    _, x, y = weights_and_batch
    outputs = {}
    for impl, action in ((saved, "save"), (restored, "restore")):
        with tf.Graph().as_default():
            g = train_rnn.build_graph(tiny_config(lstm_impl=impl, num_hidden=128),
                                      seed=1 if action == "save" else 2)
            saver = tf1.train.Saver()
            with tf1.Session() as sess:
                sess.run(tf1.global_variables_initializer())
                if action == "save":
                    for _ in range(3):   # move away from the initial values
                        sess.run(g["train_op"], {g["X"]: x, g["Y"]: y})
                    saver.save(sess, str(tmp_path / "ckpt"))
                else:
                    saver.restore(sess, str(tmp_path / "ckpt"))
                # odd and one-image batches too: fast and fused split the batch in shards
                outputs[action] = [sess.run(g["logits"], {g["X"]: x[:n]}) for n in (64, 3, 1)]
    for a, b in zip(outputs["save"], outputs["restore"]):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)


@pytest.mark.slow
def test_fused_row_beliefs_are_the_basic_cells(weights_and_batch):
    """The fused op gives every timestep's output: the same beliefs row by row as the
    tutorial's cell (predict.py --reading)."""
    weights, x, _ = weights_and_batch
    beliefs = {}
    for impl in ("basic", "fused"):
        with tf.Graph().as_default():
            g = train_rnn.build_graph(tiny_config(lstm_impl=impl, num_hidden=128), seed=0)
            with tf1.Session() as sess:
                for name, var in zip(("w_out", "b_out", "kernel", "bias"),
                                     tf1.trainable_variables()):
                    var.load(weights[name], sess)
                beliefs[impl] = sess.run(g["row_beliefs"], {g["X"]: x})
    assert beliefs["basic"].shape == (64, 28, 10)
    np.testing.assert_allclose(beliefs["fused"], beliefs["basic"], atol=1e-5, rtol=0)


@pytest.mark.slow
def test_fused_gradient_through_every_timestep_is_the_basic_cells(weights_and_batch):
    """A loss that reads every timestep's output (the beliefs row by row) as well as the last
    one: the fused op's gradient takes d h for all timesteps then, and agrees with the
    tutorial's cell. And the training step's own gradient builds no (B, T, H) gradient: only
    the last output's reaches the op (what makes it cheaper)."""
    weights, x, y = weights_and_batch
    grads = {}
    for impl in ("basic", "fused"):
        with tf.Graph().as_default() as graph:
            g = train_rnn.build_graph(tiny_config(lstm_impl=impl, num_hidden=128), seed=0)
            weights_of = dict(zip(("w_out", "b_out", "kernel", "bias"), tf1.trainable_variables()))
            rows = g["row_beliefs"]                                       # (B, T, 10)
            scale = np.linspace(-1, 1, 28 * 10, dtype=np.float32).reshape(28, 10)
            loss = g["loss_op"] + tf.reduce_mean(tf.square(rows) * scale)
            wanted = [weights_of["kernel"], weights_of["bias"]]
            every, trained = tf.gradients(loss, wanted), tf.gradients(g["loss_op"], wanted)
            if impl == "fused":   # d h of train_op's gradient and of the two above
                assert sorted(str(op.inputs[5].shape) for op in graph.get_operations()
                              if op.type == "FusedLstmGrad") == ["(0, 0, 0)", "(0, 0, 0)",
                                                                 "(None, 28, 128)"]
            with tf1.Session() as sess:
                for name, var in weights_of.items():
                    var.load(weights[name], sess)
                grads[impl] = sess.run([every, trained], {g["X"]: x, g["Y"]: y})
    for impl_grads, basic_grads in zip(grads["fused"], grads["basic"]):
        for a, b in zip(impl_grads, basic_grads):
            np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)
    # the loss on every row changes the gradient: the d h path is not idle
    assert np.abs(grads["basic"][0][0] - grads["basic"][1][0]).max() > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("impl", ["basic", "fast", "fused"])
def test_the_seed7_log_is_kept(impl, mnist_dir):
    """The same seed prints the same log: 600 steps of each implementation, byte for byte as
    committed (basic and fast: their logs from before fused existed)."""
    r = subprocess.run([sys.executable, os.path.join(ROOT, "train_rnn.py"), "--training_steps=600",
                        "--display_step=100", "--seed=7", "--runs_dir=", f"--lstm_impl={impl}",
                        f"--data_dir={mnist_dir}"], capture_output=True, text=True, timeout=600,
                       cwd=ROOT)
    assert r.returncode == 0, r.stderr
    printed = r.stdout.replace(f" --data_dir={mnist_dir}", "")   # from the repeat line
    with open(os.path.join(ROOT, "tests", "data", f"seed7_600_{impl}.log")) as f:
        assert printed == f.read()


@pytest.mark.slow
def test_no_compiler_is_one_line_and_everything_else_works(tmp_path, mnist_dir):
    """Where no C++ compiler exists: lstm_impl=fused, given on the command line or in
    config.py, exits 2 with one line saying what to install; nothing is created."""
    import test_config
    project = test_config.project_copy(tmp_path, 'lstm_impl = "basic"', 'lstm_impl = "fused"')
    env = dict(os.environ, CXX=str(tmp_path / "no-such-compiler"))
    line = test_config.line_of("lstm_impl =")
    for script, argv, where in (
            (ROOT, ["--lstm_impl=fused"], "--lstm_impl=fused"),
            (str(project), [], f"config.py line {line}: lstm_impl=fused")):
        r = subprocess.run([sys.executable, os.path.join(script, "train_rnn.py"), *argv,
                            f"--runs_dir={tmp_path}/runs", f"--data_dir={mnist_dir}"],
                           capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 2 and r.stdout == "", r.stderr
        assert r.stderr == (f"train_rnn.py: error: {where} builds a C++ op and needs a C++ "
                            "compiler: install g++ (apt-get install g++) or set CXX, or use "
                            "lstm_impl=fast\n")
    assert not os.path.exists(tmp_path / "runs")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "train_rnn.py"), "--lstm_impl=fast",
                        "--training_steps=2", "--runs_dir=", f"--data_dir={mnist_dir}"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and "Optimization Finished!" in r.stdout


@pytest.mark.slow
def test_a_failed_build_is_one_line(tmp_path, mnist_dir):
    """A compiler that fails: one line pointing at its output, exit 1, no run folder."""
    fake = tmp_path / "cxx"
    fake.write_text("#!/bin/sh\necho 'fused_lstm.cc:1: error: no' >&2\nexit 1\n")
    fake.chmod(0o755)
    env = dict(os.environ, CXX=str(fake), LSTM_OPS_CACHE=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, os.path.join(ROOT, "train_rnn.py"), "--lstm_impl=fused",
                        f"--runs_dir={tmp_path}/runs", f"--data_dir={mnist_dir}"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines[0].startswith("# building the fused LSTM op once") and len(lines) == 2
    assert lines[1].startswith("train_rnn.py: error: building the fused LSTM op failed (")
    log = lines[1].split("its output is in ")[1].split(")")[0]
    assert "error: no" in open(log).read()
    assert not os.path.exists(tmp_path / "runs")
    assert sorted(os.listdir(os.path.dirname(log))) == ["build.log", "fused_lstm.so.lock"]
