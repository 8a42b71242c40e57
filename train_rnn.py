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
import itertools
import json
import math
import re
import secrets
import shlex
import signal
import tempfile
import time
import types
import warnings

import numpy as np
from tqdm import tqdm

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
    args.explicit = {k for k in config_defaults()
                     if any(a == f"--{k}" or a.startswith(f"--{k}=") for a in argv)}
    problem = check_config(cfg)
    if problem:
        parser.error(problem)
    return cfg, args


def check_config(cfg):
    """The first invalid value of `cfg` as a one-line message naming key and range, or None."""
    train_size = MNIST_TRAIN - cfg.validation_size
    positive = ("training_steps", "batch_size", "display_step", "num_hidden",
                "num_input", "timesteps", "test_len", "checkpoint_every", "keep_checkpoints")
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
    if cfg.lstm_impl not in ("basic", "fast"):
        return f"--lstm_impl must be basic or fast, got {cfg.lstm_impl!r}"
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

    # TF1's default kernel initializer (glorot uniform; the bias starts at zeros), seeded
    # here: the legacy cell ignores the graph seed alone.
    with tf1.variable_scope("rnn", initializer=tf1.glorot_uniform_initializer(seed=3)) as scope:
        pass
    if cfg.lstm_impl == "basic":
        # timesteps tensors of shape (B, num_input): the image's rows, top to bottom
        x = tf.unstack(X, cfg.timesteps, 1)
        lstm_cell = tf1.nn.rnn_cell.BasicLSTMCell(cfg.num_hidden, forget_bias=1.0)
        outputs, states = tf1.nn.static_rnn(lstm_cell, x, dtype=tf.float32, scope=scope)
        last_output = outputs[-1]
    else:
        with tf1.variable_scope(scope):
            last_output = fast_lstm(X, cfg.num_hidden, forget_bias=1.0)

    # Linear activation, using the last output of the unrolled LSTM
    logits = tf.matmul(last_output, weights["out"]) + biases["out"]  # (B, 10)
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


def fast_lstm(X, num_hidden, forget_bias, shards=2):
    """BasicLSTMCell + static_rnn with fewer, bigger and fused ops; returns the last output (B, H).

    The same mathematics, gate order (i, j, f, o), forget_bias added at run time and variables
    (basic_lstm_cell/kernel [I + H, 4H], bias [4H]), so checkpoints move between the two. What
    makes it faster, each measured with bench.py:
      - the input projection of all timesteps is one matrix product;
      - backward, each timestep is one fused LSTMBlockCellGrad op and one matmul, and the
        weight and bias gradients of all timesteps come from one product (a custom gradient);
      - the batch is split in `shards` independent halves that run on separate cores
        (session_config gives the fast path one inter-op thread per shard); small matrices
        don't gain from multi-threaded matmuls, independent chains do.
    """
    tf1 = tf.compat.v1
    _, T, I = X.shape.as_list()
    H = num_hidden
    with tf1.variable_scope("basic_lstm_cell"):
        kernel = tf1.get_variable("kernel", [I + H, 4 * H])
        bias = tf1.get_variable("bias", [4 * H], initializer=tf1.zeros_initializer())
    # forget_bias added to the f gates' pre-activations at run time, as BasicLSTMCell does
    forget = tf.constant(np.r_[np.zeros(2 * H), np.full(H, forget_bias), np.zeros(H)], tf.float32)

    @tf.custom_gradient
    def lstm(X, w, b):
        x_all = tf.reshape(tf.transpose(X, [1, 0, 2]), [-1, I])   # (T*B, I), time-major
        xs = tf.split(x_all, T)                                    # T x (B, I)
        w_h = w[I:]                                                # (H, 4H)
        # input projection of every timestep at once: (T, B, 4H)
        xw = tf.unstack(tf.reshape(tf.matmul(x_all, w[:I]) + (b + forget), [T, -1, 4 * H]), T)
        zeros = tf.zeros_like(xw[0][:, :H])                        # (B, H)
        h, c = zeros, zeros
        h_prev, c_prev, acts = [], [], []
        for t in range(T):
            h_prev.append(h)
            c_prev.append(c)
            gates = xw[t] + tf.matmul(h, w_h) if t else xw[t]     # (B, 4H)
            i, j, f, o = tf.split(gates, 4, axis=1)
            i, ci, f, o = tf.sigmoid(i), tf.tanh(j), tf.sigmoid(f), tf.sigmoid(o)
            c = f * c + i * ci
            co = tf.tanh(c)
            h = o * co
            acts.append(dict(i=i, cs=c, f=f, o=o, ci=ci, co=co))

        def grad(dh):                                              # dh: d loss / d h_T (B, H)
            no_peephole = tf.zeros([H])
            dc, dgates = zeros, [None] * T
            for t in reversed(range(T)):
                dc, dgates[t], _, _, _ = tf.raw_ops.LSTMBlockCellGrad(
                    x=xs[t], cs_prev=c_prev[t], h_prev=h_prev[t], w=w, b=b, wci=no_peephole,
                    wcf=no_peephole, wco=no_peephole, cs_grad=dc, h_grad=dh, use_peephole=False,
                    **acts[t])
                if t:
                    dh = tf.matmul(dgates[t], w_h, transpose_b=True)
            # [x, h_prev, 1] of all timesteps: one product gives the kernel and bias gradients
            xh1 = tf.concat([x_all, tf.concat(h_prev, 0), tf.ones_like(x_all[:, :1])], 1)
            dwb = tf.matmul(xh1, tf.concat(dgates, 0), transpose_a=True)   # (I + H + 1, 4H)
            return None, dwb[:I + H], dwb[I + H]                   # X is fed: no gradient
        return h, grad

    w, b = tf.convert_to_tensor(kernel), tf.convert_to_tensor(bias)
    B = tf.shape(X)[0]
    X_even = tf.concat([X, X[:B % shards]], 0)   # an odd batch repeats a row, dropped below
    outputs = [lstm(part, w, b) for part in tf.split(X_even, shards)]
    return tf.concat(outputs, 0)[:B]


def session_config(cfg):
    """Session settings: op determinism, so that one seed gives one log; for the fast LSTM, one
    single-threaded inter-op thread per batch shard, which suits its small matrices."""
    tf.config.experimental.enable_op_determinism()
    if cfg.lstm_impl == "fast":
        return tf.compat.v1.ConfigProto(inter_op_parallelism_threads=2,
                                        intra_op_parallelism_threads=1,
                                        use_per_session_threads=True)  # not the global pools
    return tf.compat.v1.ConfigProto()


# ---------------------------------------------------------------------------------------------
# Training

class TrainingDiverged(Exception):
    pass


class RunError(Exception):
    """A run folder or checkpoint can't be used; the message says which and what to do."""


def train(cfg, seed, mnist, log=print, run_dir=None, resume=False):
    """Train on `mnist` and log the tutorial's lines through `log`; return the final accuracies.

    With `run_dir`, checkpoints and TensorBoard events go there, and `resume` continues from
    its newest checkpoint. Ctrl-C saves a checkpoint and raises KeyboardInterrupt.

    Raises:
        TrainingDiverged: the loss became NaN or infinite.
        RunError: the checkpoint to resume from is missing, corrupted or of another model.
    """
    graph = tf.Graph()
    with graph.as_default():
        g = build_graph(cfg, seed)
        ckpt = Checkpointer(mnist.train, cfg.keep_checkpoints, run_dir) if run_dir else None
        init = tf.compat.v1.global_variables_initializer()
    X, Y, accuracy = g["X"], g["Y"], g["accuracy"]

    with tf.compat.v1.Session(graph=graph, config=session_config(cfg)) as sess, \
            RunOutputs(run_dir, graph, cfg, log) as out:
        sess.run(init)
        first = 1
        if resume:
            first = ckpt.restore(sess) + 1
            out.restart_events(first)
        train_steps(sess, g, mnist.train, cfg, first, out, ckpt)
        out.log("Optimization Finished!")

        # The tutorial's accuracy on the first test_len test images, then on all of them
        test_data = mnist.test.images[:cfg.test_len].reshape((-1, cfg.timesteps, cfg.num_input))
        test_label = mnist.test.labels[:cfg.test_len]
        test_acc = sess.run(accuracy, feed_dict={X: test_data, Y: test_label})
        out.log("Testing Accuracy: " + str(test_acc))
        full_acc = full_test_accuracy(sess, g, mnist.test, cfg)
        out.log(f"# Testing Accuracy on all {mnist.test.num_examples} test images: {full_acc:.4f}")
        out.scalars(cfg.training_steps, test_accuracy=test_acc, test_accuracy_all=full_acc)
    return float(test_acc), float(full_acc)


def train_steps(sess, g, train_set, cfg, first, out, ckpt=None):
    """The training loop, steps `first`..cfg.training_steps, logging at display steps."""
    X, Y, train_op, loss_op, accuracy = g["X"], g["Y"], g["train_op"], g["loss_op"], g["accuracy"]
    bar = out.progress(first - 1)
    with StopOnSigint() as stop:
        for step in range(first, cfg.training_steps + 1):
            batch_x, batch_y = train_set.next_batch(cfg.batch_size)
            # Reshape data to get 28 sequences of 28 elements: (B, timesteps, num_input)
            batch_x = batch_x.reshape((cfg.batch_size, cfg.timesteps, cfg.num_input))
            # Run optimization op (backprop); the loss comes along to catch divergence
            _, train_loss = sess.run([train_op, loss_op], feed_dict={X: batch_x, Y: batch_y})
            if not math.isfinite(train_loss):
                raise TrainingDiverged(f"loss became {train_loss} at step {step}; lower "
                                       f"--learning_rate (now {cfg.learning_rate})")
            if step % cfg.display_step == 0 or step == 1:
                # Batch loss and accuracy after the update, as the tutorial did
                loss, acc = sess.run([loss_op, accuracy], feed_dict={X: batch_x, Y: batch_y})
                out.log("Step " + str(step) + ", Minibatch Loss= " + "{:.4f}".format(loss)
                        + ", Training Accuracy= " + "{:.3f}".format(acc))
                out.scalars(step, minibatch_loss=loss, training_accuracy=acc)
            bar.update(1)
            if ckpt and (step % cfg.checkpoint_every == 0 or step == cfg.training_steps
                         or stop.requested):
                ckpt.save(sess, step)
            if stop.requested:
                raise KeyboardInterrupt(step)
    bar.close()


def full_test_accuracy(sess, g, test, cfg, chunk=1000):
    """Accuracy on every test image, evaluated in chunks to bound memory."""
    correct = 0
    for i in range(0, test.num_examples, chunk):
        images = test.images[i:i + chunk].reshape((-1, cfg.timesteps, cfg.num_input))
        correct += sess.run(g["correct_pred"], {g["X"]: images,
                                                g["Y"]: test.labels[i:i + chunk]}).sum()
    return correct / test.num_examples


# ---------------------------------------------------------------------------------------------
# Run folder: checkpoints, log, TensorBoard, progress, Ctrl-C

class Checkpointer:
    """A Saver for the model and the data pipeline's state, in one TF checkpoint.

    Resuming needs the step and the train set's permutation, position, epoch count and RNG
    state as well as the weights; they are variables here, so one checkpoint holds them all and
    TensorFlow writes it atomically.
    """

    def __init__(self, dataset, keep, run_dir):
        tf1 = tf.compat.v1
        self.dataset, self.run_dir = dataset, run_dir
        self.state, self.feeds, assigns = {}, {}, []
        with tf1.variable_scope("resume_state"):
            for key, value in dict(dataset.get_state(), step=np.int64(0)).items():
                dtype = tf.float64 if np.asarray(value).dtype.kind == "f" else tf.int64
                var = tf1.get_variable(key, shape=np.shape(value), dtype=dtype, trainable=False,
                                       initializer=tf1.zeros_initializer())
                self.feeds[key] = tf1.placeholder(dtype, np.shape(value))
                self.state[key] = var
                assigns.append(var.assign(self.feeds[key]))
        self.assign = tf.group(*assigns)
        self.saver = tf1.train.Saver(max_to_keep=keep, save_relative_paths=True)

    def save(self, sess, step):
        state = dict(self.dataset.get_state(), step=step)
        feed = {self.feeds[k]: np.asarray(v, dtype=self.feeds[k].dtype.as_numpy_dtype)
                for k, v in state.items()}
        sess.run(self.assign, feed)
        self.saver.save(sess, os.path.join(self.run_dir, "ckpt"), global_step=step,
                        write_meta_graph=False)

    def restore(self, sess):
        """Load the run's newest checkpoint into `sess` and the data set; return its step."""
        path = os.path.join(self.run_dir, f"ckpt-{latest_step(self.run_dir)}")
        try:
            self.saver.restore(sess, path)
        except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError) as e:
            first = str(e).strip().splitlines()[0][:200]
            raise RunError(f"checkpoint {path} does not match this model ({first}); resume "
                           "with the run's own config") from None
        except (tf.errors.DataLossError, tf.errors.OpError, ValueError) as e:
            first = str(e).strip().splitlines()[0][:200]
            raise RunError(f"checkpoint {path} is corrupted ({first}); delete it to resume from "
                           "an earlier one, or start a new run") from None
        state = dict(zip(self.state, sess.run(list(self.state.values()))))
        self.dataset.set_state(state)
        return int(state["step"])


class RunOutputs:
    """Where a run's lines and numbers go: stdout, the run folder's log and TensorBoard events.

    Without a run folder, only `log`.
    """

    def __init__(self, run_dir, graph, cfg, log):
        self.run_dir, self.graph, self.cfg, self._print = run_dir, graph, cfg, log
        self.bar = self.file = self.writer = None

    def __enter__(self):
        if self.run_dir:
            self.file = open(os.path.join(self.run_dir, "log.txt"), "a")
            self.writer = tf.compat.v1.summary.FileWriter(self.run_dir, self.graph)
        return self

    def __exit__(self, *exc):
        if self.file:
            self.file.close()
            self.writer.close()

    def log(self, line):
        if self.bar is not None and not self.bar.disable:
            self.bar.write(line, file=sys.stdout)
        else:
            self._print(line)
        if self.file:
            self.file.write(line + "\n")
            self.file.flush()

    def scalars(self, step, **values):
        if self.writer:
            summary = tf.compat.v1.Summary(value=[
                tf.compat.v1.Summary.Value(tag=tag, simple_value=float(v))
                for tag, v in values.items()])
            self.writer.add_summary(summary, step)

    def restart_events(self, step):
        """A resumed run: TensorBoard drops the earlier try's events from `step` on."""
        if self.writer:
            self.writer.add_session_log(
                tf.compat.v1.SessionLog(status=tf.compat.v1.SessionLog.START), step)

    def progress(self, done):
        """A tqdm bar on stderr when it is a terminal; nothing otherwise, so logs stay clean."""
        self.bar = tqdm(total=self.cfg.training_steps, initial=done, unit="step",
                        file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True,
                        mininterval=0.5)
        return self.bar


class StopOnSigint:
    """While active, the first Ctrl-C only sets `requested`, so the loop can save and stop."""

    def __enter__(self):
        self.requested = False
        self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self.previous)   # a second Ctrl-C stops at once

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)


RESUMABLE = {"training_steps", "checkpoint_every", "keep_checkpoints", "data_dir", "runs_dir",
             "lstm_impl"}  # what may change when a run is resumed


def new_run_dir(cfg, run_name):
    """Create runs/<run_name or timestamp>; the timestamp gets -2, -3 ... when taken."""
    name = run_name or time.strftime("%Y%m%d-%H%M%S")
    path = os.path.join(cfg.runs_dir, name)
    for k in itertools.count(2):
        try:
            os.makedirs(path)
            return path
        except FileExistsError:
            if run_name:
                raise RunError(f"run folder {path} exists; resume it with --resume {path}, "
                               "or choose another --run_name") from None
            path = os.path.join(cfg.runs_dir, f"{name}-{k}")
        except OSError as e:
            raise RunError(f"cannot create run folder {path} ({e.strerror}); "
                           "set --runs_dir to a writable folder") from None


def load_run(run_dir, cfg, explicit):
    """The config and seed of the run in `run_dir`, with the command line's changes (the keys in
    `explicit`, their values in `cfg`) checked and applied."""
    try:
        with open(os.path.join(run_dir, "config.json")) as f:
            saved = json.load(f)
        saved_cfg, seed = saved["config"], int(saved["seed"])
    except FileNotFoundError:
        raise RunError(f"{run_dir} is not a run folder (no config.json); give the folder "
                       "that train_rnn.py printed") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise RunError(f"{run_dir}/config.json is unreadable; start a new run") from None
    for key in explicit - RESUMABLE:
        if getattr(cfg, key) != saved_cfg.get(key):
            raise RunError(f"{run_dir} was trained with {key}={saved_cfg.get(key)}, not "
                           f"{getattr(cfg, key)}; drop --{key} to resume it, or start a new run")
    merged = dict(config_defaults(), **saved_cfg)
    merged.update({k: getattr(cfg, k) for k in explicit & RESUMABLE})
    return types.SimpleNamespace(**merged), seed


def latest_step(run_dir):
    """The step of the newest checkpoint in `run_dir`."""
    path = tf.compat.v1.train.latest_checkpoint(run_dir)
    if path is None:
        raise RunError(f"{run_dir} has no checkpoint yet; start a new run with python "
                       "train_rnn.py")
    return int(path.rsplit("-", 1)[1])


def truncate_log(run_dir, step):
    """Keep the run's log up to `step`, the lines that the resumed run will not print again."""
    path = os.path.join(run_dir, "log.txt")
    kept = []
    with contextlib.suppress(FileNotFoundError):
        with open(path) as f:
            for line in f:
                m = re.match(r"Step (\d+),", line)
                if m and int(m[1]) > step or not m and kept and not line.startswith("# seed"):
                    break
                kept.append(line)
    data.atomic_write_text(path, "".join(kept))


def repeat_command(cfg, seed):
    """The command line that repeats this run: the seed plus every non-default constant."""
    defaults = config_defaults()
    args = [f"--{k}={v}" for k, v in vars(cfg).items()
            if k not in ("seed", "runs_dir") and v != defaults[k]]
    return shlex.join(["python", "train_rnn.py", f"--seed={seed}", *args])


def main(argv=None):
    parser = config_parser()
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in this folder "
                        "from its newest checkpoint")
    parser.add_argument("--run_name", help="name of the run folder (default: a timestamp)")
    cfg, args = parse_config(sys.argv[1:] if argv is None else argv, parser)
    run_dir = None
    try:
        if args.resume:
            cfg, seed = load_run(args.resume, cfg, args.explicit)
            step = latest_step(args.resume)
        else:
            seed = cfg.seed if cfg.seed is not None else secrets.randbelow(2**31)
        # the data first: a run that can't start leaves no run folder behind
        mnist = data.read_data_sets(cfg.data_dir, one_hot=True,
                                    validation_size=cfg.validation_size, seed=seed)
        if args.resume:
            run_dir = args.resume
            truncate_log(run_dir, step)
            print(f"# resuming {run_dir} from step {step}", file=sys.stderr, flush=True)
        else:
            header = f"# seed {seed}; repeat this run with: {repeat_command(cfg, seed)}"
            if cfg.runs_dir:   # runs_dir="" trains without a run folder
                run_dir = new_run_dir(cfg, args.run_name)
                data.atomic_write_text(os.path.join(run_dir, "config.json"), json.dumps(
                    {"config": dict(vars(cfg), seed=seed), "seed": seed,
                     "command": repeat_command(cfg, seed)}, indent=1) + "\n")
                data.atomic_write_text(os.path.join(run_dir, "log.txt"), header + "\n")
            print(header, flush=True)
        train(cfg, seed, mnist, log=lambda line: print(line, flush=True), run_dir=run_dir,
              resume=bool(args.resume))
    except (data.DataError, TrainingDiverged, RunError) as e:
        sys.exit(f"train_rnn.py: error: {e}")
    except KeyboardInterrupt as e:
        if run_dir and tf.compat.v1.train.latest_checkpoint(run_dir):
            saved = f"checkpoint saved at step {e.args[0]}; " if e.args else ""
            print(f"\n# interrupted: {saved}resume with: python train_rnn.py --resume {run_dir}",
                  file=sys.stderr)
        else:
            print("\n# interrupted before the first checkpoint: nothing to resume",
                  file=sys.stderr)
        sys.exit(130)
    if run_dir:
        print(f"# run folder: {run_dir} (tensorboard --logdir {cfg.runs_dir})", file=sys.stderr)


if __name__ == "__main__":
    main()
