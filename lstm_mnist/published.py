"""config.py as published: each constant's value, hence its type, and the names the choice
constants allow. Read without TensorFlow, so that a mistake is caught before it loads."""

# config.py as published. Each constant's type comes from here, not from the edited file; the
# repeat command lists what differs from these, so that it repeats the run whatever config.py
# holds later.
PUBLISHED = dict(learning_rate=0.001, optimizer="gradient_descent", momentum=0.9,
                 training_steps=10000, batch_size=128, display_step=200, num_input=28,
                 timesteps=28, num_hidden=128, num_classes=10, cell="basic_lstm",
                 bidirectional=False, lstm_impl="basic", log_format="step",
                 test_len=128, data_dir="/tmp/data/", validation_size=5000, runs_dir="runs",
                 checkpoint_every=1000, keep_checkpoints=3, seed=None)

# the names each choice allows (train_rnn.py's CELLS and OPTIMIZERS hold the same names)
CHOICES = {"cell": ("basic_lstm", "lstm", "gru", "basic_rnn"),
           "optimizer": ("gradient_descent", "momentum", "adam", "rmsprop", "adagrad"),
           "lstm_impl": ("basic", "fast", "fused"),
           "log_format": ("step", "iter")}

MNIST_PIXELS = 784
MNIST_TRAIN = 60000
MNIST_TEST = 10000


def kind_of(key):
    """The type a constant takes: bool, int, float or str (seed: an int or None)."""
    value = PUBLISHED[key]
    return int if value is None else type(value)
