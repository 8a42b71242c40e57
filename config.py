"""The tutorial's constants. Edit them here, or override any on the command line:

    python train_rnn.py --training_steps=500 --seed=3
"""

# Training Parameters
learning_rate = 0.001  # step size
optimizer = "gradient_descent"  # the tutorial's; or momentum, adam, rmsprop, adagrad (TF1's own)
momentum = 0.9  # used by optimizer = "momentum" only
training_steps = 10000  # minibatches to train on
batch_size = 128  # images per minibatch
display_step = 200  # print a "Step N, ..." line every this many steps (and at step 1)
log_format = "step"  # "Step N" lines (August 2017); "iter": January 2017's "Iter N*batch_size"

# Network Parameters
num_input = 28  # MNIST data input (img shape: 28*28): pixels per timestep, one image row
timesteps = 28  # timesteps: rows read one after another
num_hidden = 128  # hidden layer num of features (LSTM units)
num_classes = 10  # MNIST total classes (0-9 digits)
cell = "basic_lstm"  # the tutorial's BasicLSTMCell; or lstm (LSTMCell), gru, basic_rnn
bidirectional = False  # True: a forward and a backward cell read each image
lstm_impl = "basic"  # "basic": TF1's cells; "fast"/"fused": the tutorial's cell, many ops/one op

# Evaluation and data
test_len = 128  # the tutorial's "Testing Accuracy" uses the first test_len test images
data_dir = "/tmp/data/"  # where the four MNIST .gz files live (fetched there when missing)
validation_size = 5000  # as TF1: the first 5000 of the 60000 train images are validation

# Run folder: runs_dir/<run name>/ holds the log, config.json, checkpoints, TensorBoard events
runs_dir = "runs"  # resume a run with: python train_rnn.py --resume runs/<name>; "": no folder
checkpoint_every = 1000  # steps between checkpoints (one is also saved at the end and on Ctrl-C)
keep_checkpoints = 3  # newest checkpoints kept; older ones are deleted

# Reproducibility
seed = None  # None: draw one and print it; an int: repeat that run exactly
