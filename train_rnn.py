"""The TensorFlow 1 tutorial: an LSTM reads each MNIST image as 28 rows of 28 pixels.

    python train_rnn.py                                  # the tutorial, as published
    python train_rnn.py --training_steps=500 --seed=3    # any constant of config.py

Flow: config -> data -> graph (build_graph) -> training loop -> log -> test accuracy.
"""
import os
import sys

# Before TensorFlow is first imported: BasicLSTMCell lives on only in the legacy Keras cells,
# and TensorFlow's C++ start-up chatter would drown the tutorial's log.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import contextlib
import math
import re
import secrets
import shlex
import tempfile
import types
import warnings

import numpy as np

import config
import data

# C++ lines that TensorFlow prints while it loads, whatever TF_CPP_MIN_LOG_LEVEL says
_LOAD_NOISE = re.compile(r"absl::InitializeLog|cudart_stub|cpu_feature_guard|To enable the "
                         r"following instructions|oneDNN custom operations|Unable to register "
                         r"cu(DNN|FFT|BLAS) factory|computation placer|TF-TRT Warning|cuInit")


@contextlib.contextmanager
def _quiet_load():
    """Run a block with file descriptor 2 captured; pass on all but the known load noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not _LOAD_NOISE.search(line):
                    sys.stderr.write(line)


with _quiet_load():
    import tensorflow as tf
    import tf_keras  # noqa: F401  (loaded here, not at the first cell, to quiet it too)

tf.compat.v1.disable_eager_execution()
tf.get_logger().setLevel("ERROR")  # deprecation notices of the compat API we use on purpose
warnings.filterwarnings("ignore", module=r"(tensorflow|tf_keras|keras)\b")
warnings.filterwarnings("ignore", message=r".*(BasicLSTMCell|static_rnn).*deprecated")

MNIST_PIXELS = 784
MNIST_TRAIN = 60000
MNIST_TEST = 10000


# ---------------------------------------------------------------------------------------------
# Config: the constants of config.py, each overridable as --key=value

def config_defaults():
    """The tutorial's constants from config.py, as a dict."""
    return {k: v for k, v in vars(config).items()
            if not k.startswith("_") and isinstance(v, (int, float, str, type(None)))}


class _ArgParser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2: no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def _typed(key, kind, optional):
    def convert(text):
        if optional and text.lower() == "none":
            return None
        try:
            if kind is float:
                return float(text)
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expects {'a number' if kind is float else 'an integer'}"
                f"{' or None' if optional else ''}, got {text!r}") from None
    convert.__name__ = kind.__name__
    return convert


def config_parser(prog="train_rnn.py", description=None):
    """An argparse parser with one --key option per constant of config.py."""
    parser = _ArgParser(prog=prog, description=description or __doc__, allow_abbrev=False,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    for key, default in config_defaults().items():
        kind = str if isinstance(default, str) else float if isinstance(default, float) else int
        parser.add_argument(f"--{key}", type=str if kind is str else
                            _typed(key, kind, optional=default is None),
                            default=default, metavar=kind.__name__.upper(),
                            help=f"default: {default}")
    return parser


def parse_config(argv, parser=None):
    """Command line -> (config namespace, extra args). Exits 2 with one line on bad input."""
    parser = parser or config_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        known = ", ".join(config_defaults())
        parser.error(f"unknown config key {unknown[0].split('=')[0]}; known keys: {known}")
    cfg = types.SimpleNamespace(**{k: getattr(args, k) for k in config_defaults()})
    problem = check_config(cfg)
    if problem:
        parser.error(problem)
    return cfg, args


def check_config(cfg):
    """The first invalid value of `cfg` as a one-line message naming key and range, or None."""
    train_size = MNIST_TRAIN - cfg.validation_size
    positive = ("training_steps", "batch_size", "display_step", "num_hidden",
                "num_input", "timesteps", "test_len")
    for key in positive:
        if getattr(cfg, key) <= 0:
            return f"--{key} must be a positive integer, got {getattr(cfg, key)}"
    if not (math.isfinite(cfg.learning_rate) and cfg.learning_rate > 0):
        return f"--learning_rate must be a positive finite number, got {cfg.learning_rate}"
    if cfg.timesteps * cfg.num_input != MNIST_PIXELS:
        return (f"--timesteps * --num_input must be {MNIST_PIXELS} (28x28 pixels), "
                f"got {cfg.timesteps} * {cfg.num_input} = {cfg.timesteps * cfg.num_input}")
    if cfg.num_classes != 10:
        return f"--num_classes must be 10 (MNIST digits 0-9), got {cfg.num_classes}"
    if not 0 <= cfg.validation_size < MNIST_TRAIN:
        return f"--validation_size must be between 0 and {MNIST_TRAIN - 1}, got {cfg.validation_size}"
    if cfg.batch_size > train_size:
        return (f"--batch_size must be between 1 and {train_size} (the train set size), "
                f"got {cfg.batch_size}")
    if cfg.test_len > MNIST_TEST:
        return f"--test_len must be between 1 and {MNIST_TEST}, got {cfg.test_len}"
    if cfg.seed is not None and not 0 <= cfg.seed < 2**31:
        return f"--seed must be between 0 and {2**31 - 1}, got {cfg.seed}"
    return None


# ---------------------------------------------------------------------------------------------
# The graph

def build_graph(cfg, seed):
    """Build the tutorial's graph in the current default graph.

    Every random initial value comes from `seed`: the graph-level seed plus fixed op seeds,
    so the same seed gives the same initial weights whatever else the graph holds.

    Returns:
        dict of tensors and ops: X, Y, logits, prediction, loss_op, train_op, accuracy,
        correct_pred, weights, biases.
    """
    tf1 = tf.compat.v1
    tf1.set_random_seed(seed)

    # tf Graph input
    X = tf1.placeholder("float", [None, cfg.timesteps, cfg.num_input])  # (B, 28, 28)
    Y = tf1.placeholder("float", [None, cfg.num_classes])                # (B, 10) one-hot

    # Output layer weights, from tf.random_normal as in the tutorial
    weights = {"out": tf.Variable(tf1.random_normal([cfg.num_hidden, cfg.num_classes], seed=1),
                                  name="weights_out")}
    biases = {"out": tf.Variable(tf1.random_normal([cfg.num_classes], seed=2),
                                 name="biases_out")}

    # timesteps tensors of shape (B, num_input): the image's rows, top to bottom
    x = tf.unstack(X, cfg.timesteps, 1)
    lstm_cell = tf1.nn.rnn_cell.BasicLSTMCell(cfg.num_hidden, forget_bias=1.0)
    # TF1's default kernel initializer (glorot uniform; the bias starts at zeros), seeded
    # here: the legacy cell ignores the graph seed alone.
    with tf1.variable_scope("rnn", initializer=tf1.glorot_uniform_initializer(seed=3)) as scope:
        pass
    outputs, states = tf1.nn.static_rnn(lstm_cell, x, dtype=tf.float32, scope=scope)

    # Linear activation, using the last output of the unrolled LSTM
    logits = tf.matmul(outputs[-1], weights["out"]) + biases["out"]  # (B, 10)
    prediction = tf.nn.softmax(logits)

    # Loss and optimizer
    loss_op = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=Y))
    optimizer = tf1.train.GradientDescentOptimizer(learning_rate=cfg.learning_rate)
    train_op = optimizer.minimize(loss_op)

    # Evaluate model
    correct_pred = tf.equal(tf.argmax(prediction, 1), tf.argmax(Y, 1))
    accuracy = tf.reduce_mean(tf.cast(correct_pred, tf.float32))
    return dict(X=X, Y=Y, logits=logits, prediction=prediction, loss_op=loss_op,
                train_op=train_op, accuracy=accuracy, correct_pred=correct_pred,
                weights=weights, biases=biases)


def session_config():
    """Session settings: op determinism, so that one seed gives one log."""
    tf.config.experimental.enable_op_determinism()
    return tf.compat.v1.ConfigProto()


# ---------------------------------------------------------------------------------------------
# Training

class TrainingDiverged(Exception):
    pass


def full_test_accuracy(sess, g, test, cfg, chunk=1000):
    """Accuracy on every test image, evaluated in chunks to bound memory."""
    correct = 0
    for i in range(0, test.num_examples, chunk):
        images = test.images[i:i + chunk].reshape((-1, cfg.timesteps, cfg.num_input))
        correct += sess.run(g["correct_pred"], {g["X"]: images,
                                                g["Y"]: test.labels[i:i + chunk]}).sum()
    return correct / test.num_examples


def train(cfg, seed, mnist, log=print):
    """Train on `mnist` and log the tutorial's lines through `log`; return the final accuracies.

    Raises:
        TrainingDiverged: the loss became NaN or infinite.
    """
    graph = tf.Graph()
    with graph.as_default():
        g = build_graph(cfg, seed)
        init = tf.compat.v1.global_variables_initializer()
    X, Y, train_op, loss_op, accuracy = g["X"], g["Y"], g["train_op"], g["loss_op"], g["accuracy"]

    with tf.compat.v1.Session(graph=graph, config=session_config()) as sess:
        sess.run(init)
        for step in range(1, cfg.training_steps + 1):
            batch_x, batch_y = mnist.train.next_batch(cfg.batch_size)
            # Reshape data to get 28 sequences of 28 elements: (B, timesteps, num_input)
            batch_x = batch_x.reshape((cfg.batch_size, cfg.timesteps, cfg.num_input))
            # Run optimization op (backprop); the loss comes along to catch divergence
            _, train_loss = sess.run([train_op, loss_op], feed_dict={X: batch_x, Y: batch_y})
            if not math.isfinite(train_loss):
                raise TrainingDiverged(f"loss became {train_loss} at step {step}; lower "
                                       f"--learning_rate (now {cfg.learning_rate})")
            if step % cfg.display_step == 0 or step == 1:
                # Calculate batch loss and accuracy after the update, as the tutorial did
                loss, acc = sess.run([loss_op, accuracy], feed_dict={X: batch_x, Y: batch_y})
                log("Step " + str(step) + ", Minibatch Loss= " + "{:.4f}".format(loss)
                    + ", Training Accuracy= " + "{:.3f}".format(acc))
        log("Optimization Finished!")

        # The tutorial's accuracy on the first test_len test images, then on all of them
        test_data = mnist.test.images[:cfg.test_len].reshape((-1, cfg.timesteps, cfg.num_input))
        test_label = mnist.test.labels[:cfg.test_len]
        test_acc = sess.run(accuracy, feed_dict={X: test_data, Y: test_label})
        log("Testing Accuracy: " + str(test_acc))
        full_acc = full_test_accuracy(sess, g, mnist.test, cfg)
        log(f"# Testing Accuracy on all {mnist.test.num_examples} test images: {full_acc:.4f}")
    return float(test_acc), float(full_acc)


def repeat_command(cfg, seed):
    """The command line that repeats this run: the seed plus every non-default constant."""
    defaults = config_defaults()
    args = [f"--{k}={v}" for k, v in vars(cfg).items() if k != "seed" and v != defaults[k]]
    return shlex.join(["python", "train_rnn.py", f"--seed={seed}", *args])


def main(argv=None):
    cfg, _ = parse_config(sys.argv[1:] if argv is None else argv)
    seed = cfg.seed if cfg.seed is not None else secrets.randbelow(2**31)
    print(f"# seed {seed}; repeat this run with: {repeat_command(cfg, seed)}", flush=True)
    try:
        mnist = data.read_data_sets(cfg.data_dir, one_hot=True,
                                    validation_size=cfg.validation_size, seed=seed)
        train(cfg, seed, mnist, log=lambda line: print(line, flush=True))
    except (data.DataError, TrainingDiverged) as e:
        sys.exit(f"train_rnn.py: error: {e}")


if __name__ == "__main__":
    main()
