"""The TensorFlow 1 tutorial: an LSTM reads each MNIST image as 28 rows of 28 pixels.

    python train_rnn.py                                  # the tutorial, as published
    python train_rnn.py --training_steps=500 --seed=3    # any constant of config.py
    python train_rnn.py editions/recurrent_network_2017_01.py   # another published edition

To classify images using a recurrent neural network, we consider every image row as a sequence
of pixels. Because MNIST image shape is 28*28px, we will then handle 28 sequences of 28 steps
for every sample.

Flow, top to bottom: parameters and data (main) -> graph (RNN, build_graph) -> session and
training loop (train) -> test accuracy. The rest lives beside it, in lstm_mnist/: TensorFlow's
set-up in tf1.py, the command line in cli.py, run folders and checkpoints in runs.py, the log's
lines in tutorial_log.py, the fast cell in fast_lstm.py, the fused one in fused_lstm.py; MNIST
in data.py.
"""
import math
import sys

from lstm_mnist.tf1 import tf, tf1  # TensorFlow 2.21 as TF1: graphs and Sessions

import data
from lstm_mnist import cli, fused_lstm, runs
from lstm_mnist.fast_lstm import fast_lstm
from lstm_mnist.tf1 import load_tensorflow, session_config
from lstm_mnist.tutorial_log import (FINISHED, all_test_images_line, display_line, shows,
                                     testing_accuracy_line)

# config.cell and config.optimizer (lstm_mnist/published.py names the choices): the tutorial's
# first; TF1's defaults for all other arguments
CELLS = {
    "basic_lstm": lambda n: tf1.nn.rnn_cell.BasicLSTMCell(n, forget_bias=1.0),
    "lstm": lambda n: tf1.nn.rnn_cell.LSTMCell(n),
    "gru": lambda n: tf1.nn.rnn_cell.GRUCell(n),
    "basic_rnn": lambda n: tf1.nn.rnn_cell.BasicRNNCell(n),
}
OPTIMIZERS = {
    "gradient_descent": lambda cfg: tf1.train.GradientDescentOptimizer(cfg.learning_rate),
    "momentum": lambda cfg: tf1.train.MomentumOptimizer(cfg.learning_rate, cfg.momentum),
    "adam": lambda cfg: tf1.train.AdamOptimizer(cfg.learning_rate),
    "rmsprop": lambda cfg: tf1.train.RMSPropOptimizer(cfg.learning_rate),
    "adagrad": lambda cfg: tf1.train.AdagradOptimizer(cfg.learning_rate),
}


def main(argv=None):
    # Training and Network Parameters: config.py's constants (an edition file's over them),
    # each overridable as --key=value
    parser = cli.config_parser(description=__doc__, editions=True)
    runs.add_arguments(parser)                                   # --resume, --run_name
    cfg, args = cli.parse_config(sys.argv[1:] if argv is None else argv, parser)
    try:
        cfg, seed = runs.config_and_seed(cfg, args)   # a resumed run's own config and seed

        # Import MNIST data (before the run folder: a run that can't start leaves none behind)
        mnist = data.read_data_sets(cfg.data_dir, one_hot=True,
                                    validation_size=cfg.validation_size, seed=seed)
        load_tensorflow()          # now, before the run folder too (a few seconds)
        if cfg.lstm_impl == "fused":
            fused_lstm.library()   # built now (the first time), before the run folder too

        with runs.open_run(cfg, seed, args) as run:   # run folder, checkpoints, Ctrl-C
            train(cfg, seed, mnist, run)
    except runs.AlreadyFinished as e:
        runs.note(str(e))
    except (data.DataError, fused_lstm.BuildError, runs.TrainingDiverged, runs.RunError) as e:
        sys.exit(f"train_rnn.py: error: {e}")
    except KeyboardInterrupt:                         # before training started
        runs.note("interrupted before training started; nothing was saved")
        sys.exit(130)


def RNN(x, weights, biases, cfg):
    """The tutorial's network: the LSTM's last output times the output layer. x: (B, 28, 28).

    Returns the logits (B, 10), and the one-way LSTM's output after each row, one (B, H) a
    timestep, or None: the fast LSTM gives the last one only, and a bidirectional output at any
    row has read all of them.
    """
    if cfg.lstm_impl == "fast":     # same math and variables, fused ops (fast_lstm.py)
        last = fast_lstm(x, cfg.num_hidden, forget_bias=1.0)
        return tf.matmul(last, weights["out"]) + biases["out"], None
    if cfg.lstm_impl == "fused":    # same math and variables, one C++ op (fused_lstm.py)
        h, last = fused_lstm.fused_lstm(x, cfg.num_hidden, forget_bias=1.0)  # (B,T,H), (B,H)
        return (tf.matmul(last, weights["out"]) + biases["out"],
                tf.unstack(h, cfg.timesteps, 1))

    # Prepare data shape to match `rnn` function requirements
    # Current data input shape: (batch_size, timesteps, n_input)
    # Required shape: 'timesteps' tensors list of shape (batch_size, n_input)

    # Unstack to get a list of 'timesteps' tensors of shape (batch_size, n_input)
    x = tf.unstack(x, cfg.timesteps, 1)

    if cfg.bidirectional:   # as TensorFlow-Examples' bidirectional_rnn.py
        # Forward and backward cells; outputs[t] is both outputs at t: (B, 2 * num_hidden)
        outputs, _, _ = tf1.nn.static_bidirectional_rnn(
            CELLS[cfg.cell](cfg.num_hidden), CELLS[cfg.cell](cfg.num_hidden), x, dtype=tf.float32)
        return tf.matmul(outputs[-1], weights["out"]) + biases["out"], None

    # Define a lstm cell with tensorflow (config.cell: the tutorial's BasicLSTMCell)
    lstm_cell = CELLS[cfg.cell](cfg.num_hidden)

    # Get lstm cell output
    outputs, states = tf1.nn.static_rnn(lstm_cell, x, dtype=tf.float32)

    # Linear activation, using rnn inner loop last output
    return tf.matmul(outputs[-1], weights["out"]) + biases["out"], outputs


def build_graph(cfg, seed):
    """Build the tutorial's graph in the current default graph; training, predict.py, bench.py
    and the tests all use it.

    Every random initial value comes from `seed`: the graph-level seed plus fixed op seeds,
    so the same seed gives the same initial weights whatever else the graph holds.

    Returns:
        dict of tensors and ops: X, Y, logits, prediction, loss_op, train_op, accuracy,
        correct_pred, weights, biases, and row_beliefs (below; None where it has no meaning).
    """
    tf1.set_random_seed(seed)

    # tf Graph input
    X = tf1.placeholder("float", [None, cfg.timesteps, cfg.num_input])  # (B, 28, 28)
    Y = tf1.placeholder("float", [None, cfg.num_classes])                # (B, 10) one-hot

    # Define weights (seeded tf.random_normal, as the tutorial's)
    num_outputs = 2 * cfg.num_hidden if cfg.bidirectional else cfg.num_hidden   # last outputs
    weights = {"out": tf.Variable(tf1.random_normal([num_outputs, cfg.num_classes], seed=1),
                                  name="weights_out")}
    biases = {"out": tf.Variable(tf1.random_normal([cfg.num_classes], seed=2),
                                 name="biases_out")}

    # The LSTM's kernel gets TF1's default initializer, glorot uniform, seeded here (the legacy
    # cell ignores the graph seed alone); re-entering the current scope adds no name to it.
    # Two cells (bidirectional) take their op seeds from the graph seed: one would start both
    # cells with the same weights.
    lstm_init = tf1.glorot_uniform_initializer(seed=None if cfg.bidirectional else 3)
    with tf1.variable_scope(tf1.get_variable_scope(), initializer=lstm_init):
        logits, row_outputs = RNN(X, weights, biases, cfg)               # (B, 10)
    prediction = tf.nn.softmax(logits)

    # How the LSTM read an image: the output layer after each row t, its belief having read
    # rows 1..t (B, timesteps, 10), for predict.py --reading and serve.py; None where RNN gives
    # no such outputs. Nothing here is random, so the seeded initial values stay; training never
    # runs these ops.
    row_beliefs = None
    if row_outputs is not None:
        row_beliefs = tf.nn.softmax(tf.stack(
            [tf.matmul(output, weights["out"]) + biases["out"] for output in row_outputs], 1))

    # Define loss and optimizer
    loss_op = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=Y))
    optimizer = OPTIMIZERS[cfg.optimizer](cfg)   # the tutorial's: plain gradient descent
    train_op = optimizer.minimize(loss_op)

    # Evaluate model
    correct_pred = tf.equal(tf.argmax(prediction, 1), tf.argmax(Y, 1))
    accuracy = tf.reduce_mean(tf.cast(correct_pred, tf.float32))
    return dict(X=X, Y=Y, logits=logits, prediction=prediction, loss_op=loss_op,
                train_op=train_op, accuracy=accuracy, correct_pred=correct_pred,
                weights=weights, biases=biases, row_beliefs=row_beliefs)


def train(cfg, seed, mnist, run=None):
    """Train on `mnist`, logging the tutorial's lines through `run` (a runs.Run: by default it
    just prints); return the test accuracy on the first test_len images and on all of them.

    Raises:
        runs.TrainingDiverged: the loss became NaN or infinite.
        runs.RunError: the checkpoint to resume from is missing, corrupted or of another model.
    """
    run = run or runs.Run(cfg)
    graph = tf.Graph()
    with graph.as_default():
        g = build_graph(cfg, seed)
        X, Y, train_op, loss_op, accuracy = (g[k] for k in ("X", "Y", "train_op", "loss_op",
                                                            "accuracy"))
        run.setup(graph, mnist.train)        # checkpoint variables, before init

        # Initialize the variables (i.e. assign their default value)
        init = tf1.global_variables_initializer()

    # Start training
    with tf1.Session(graph=graph, config=session_config(cfg)) as sess, run:

        # Run the initializer
        sess.run(init)
        first = run.start(sess)              # 1, or the step after a resumed checkpoint

        for step in range(first, cfg.training_steps + 1):
            batch_x, batch_y = mnist.train.next_batch(cfg.batch_size)
            # Reshape data to get 28 seq of 28 elements: (B, timesteps, num_input)
            batch_x = batch_x.reshape((cfg.batch_size, cfg.timesteps, cfg.num_input))
            # Run optimization op (backprop); the loss comes along to catch divergence
            _, train_loss = sess.run([train_op, loss_op], feed_dict={X: batch_x, Y: batch_y})
            if not math.isfinite(train_loss):
                raise runs.TrainingDiverged(f"loss became {train_loss} at step {step}; lower "
                                       f"--learning_rate (now {cfg.learning_rate})")
            if shows(cfg.log_format, step, cfg.display_step):   # at step 1, then every 200
                # Calculate batch loss and accuracy (after the update, as the tutorial did)
                loss, acc = sess.run([loss_op, accuracy], feed_dict={X: batch_x, Y: batch_y})
                # "Step 200, Minibatch Loss= 2.1134, Training Accuracy= 0.352"
                run.log(display_line(cfg.log_format, step, loss, acc, cfg.batch_size))
                run.scalars(step, minibatch_loss=loss, training_accuracy=acc)
            run.step_done(sess, step)        # progress bar, checkpoints, Ctrl-C

        run.log(FINISHED)   # "Optimization Finished!"

        # Calculate accuracy for the first test_len (128) mnist test images
        test_data = mnist.test.images[:cfg.test_len].reshape((-1, cfg.timesteps, cfg.num_input))
        test_label = mnist.test.labels[:cfg.test_len]
        test_acc = sess.run(accuracy, feed_dict={X: test_data, Y: test_label})
        run.log(testing_accuracy_line(test_acc))   # "Testing Accuracy: 0.890625"
        # 128 images measure it to about +-0.03: all 10000 too, on a line of its own
        full_acc = full_test_accuracy(sess, g, mnist.test, cfg)
        run.log(all_test_images_line(mnist.test.num_examples, full_acc))
        run.scalars(cfg.training_steps, test_accuracy=test_acc, test_accuracy_all=full_acc)
    return float(test_acc), float(full_acc)


def full_test_accuracy(sess, g, test, cfg, chunk=1000):
    """Accuracy on every test image, evaluated in chunks to bound memory."""
    correct = 0
    for i in range(0, test.num_examples, chunk):
        images = test.images[i:i + chunk].reshape((-1, cfg.timesteps, cfg.num_input))
        correct += sess.run(g["correct_pred"], {g["X"]: images,
                                                g["Y"]: test.labels[i:i + chunk]}).sum()
    return correct / test.num_examples


if __name__ == "__main__":
    main()
