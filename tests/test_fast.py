"""The "fast" LSTM against the tutorial's "basic" one and an independent numpy LSTM."""
import numpy as np
import pytest
import runs
import train_rnn
from tf1 import tf
from conftest import tiny_config

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


def loss_and_grads(impl, weights, x, y):
    cfg = tiny_config(lstm_impl=impl, num_hidden=128)
    with tf.Graph().as_default():
        g = train_rnn.build_graph(cfg, seed=0)
        variables = dict(zip(("w_out", "b_out", "kernel", "bias"), tf1.trainable_variables()))
        grads = tf.gradients(g["loss_op"], list(variables.values()))
        with tf1.Session() as sess:
            for name, var in variables.items():
                var.load(weights[name], sess)
            loss, grad_values = sess.run([g["loss_op"], grads], {g["X"]: x, g["Y"]: y})
    return loss, dict(zip(variables, grad_values))


def test_trainable_variables_are_the_tutorials():
    for impl in ("basic", "fast"):
        with tf.Graph().as_default():
            train_rnn.build_graph(tiny_config(lstm_impl=impl, num_hidden=128), seed=0)
            names = [(v.name, v.shape.as_list()) for v in tf1.trainable_variables()]
        assert names == [("weights_out:0", [128, 10]), ("biases_out:0", [10]),
                         ("rnn/basic_lstm_cell/kernel:0", [156, 512]),
                         ("rnn/basic_lstm_cell/bias:0", [512])], impl


def test_basic_and_fast_equal_the_numpy_lstm(weights_and_batch):
    weights, x, y = weights_and_batch
    oracle = numpy_loss(x.astype(np.float64), y, *(weights[k].astype(np.float64)
                                                   for k in ("kernel", "bias", "w_out", "b_out")))
    basic_loss, basic_grads = loss_and_grads("basic", weights, x, y)
    fast_loss, fast_grads = loss_and_grads("fast", weights, x, y)
    assert abs(basic_loss - oracle) < 1e-5 and abs(fast_loss - oracle) < 1e-5
    assert abs(basic_loss - fast_loss) < 1e-5
    for name in basic_grads:
        assert np.abs(basic_grads[name]).max() > 1e-3, name      # a gradient that is there
        np.testing.assert_allclose(fast_grads[name], basic_grads[name], atol=1e-4, rtol=0,
                                   err_msg=name)


def test_numpy_oracle_sees_a_changed_forget_bias(weights_and_batch):
    """The oracle is sensitive to what we compare: forget_bias changes the loss."""
    weights, x, y = weights_and_batch
    args = [weights[k].astype(np.float64) for k in ("kernel", "bias", "w_out", "b_out")]
    assert abs(numpy_loss(x, y, *args) - numpy_loss(x, y, *args, forget_bias=0.0)) > 1e-3


def test_300_steps_trajectories_agree(mnist_dir):
    import data
    losses = {}
    for impl in ("basic", "fast"):
        mnist = data.read_data_sets(mnist_dir, seed=4, mirrors=())   # the same batches
        lines = []
        cfg = tiny_config(lstm_impl=impl, num_hidden=128, training_steps=300, display_step=20)
        train_rnn.train(cfg, 4, mnist, runs.Run(cfg, log=lines.append))
        losses[impl] = [float(l.split("Loss= ")[1].split(",")[0]) for l in lines
                        if l.startswith("Step ")]
    assert len(losses["basic"]) == 16
    np.testing.assert_allclose(losses["fast"], losses["basic"], atol=1e-3, rtol=0)
    assert losses["basic"][-1] < losses["basic"][0]


def test_checkpoint_moves_between_implementations(tmp_path, weights_and_batch):
    _, x, y = weights_and_batch
    outputs = {}
    for impl, action in (("fast", "save"), ("basic", "restore")):
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
                # odd and one-image batches too: the fast path splits the batch in halves
                outputs[impl] = [sess.run(g["logits"], {g["X"]: x[:n]}) for n in (64, 3, 1)]
    for basic, fast in zip(outputs["basic"], outputs["fast"]):
        np.testing.assert_allclose(basic, fast, atol=1e-4, rtol=0)
