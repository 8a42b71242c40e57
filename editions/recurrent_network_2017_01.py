"""The tutorial, January 2017 edition (for TensorFlow 1.0), over config.py.

TensorFlow-Examples' notebooks/3_NeuralNetworks/recurrent_network.ipynb at ab15e28 (2017-01-17):
the same network, trained with Adam, for `training_iters = 100000` images, with `Iter` lines.
Published log: reference/editions/recurrent_network_2017_01.log.

    python train_rnn.py editions/recurrent_network_2017_01.py
"""

optimizer = "adam"  # tf.train.AdamOptimizer(learning_rate=0.001)
training_steps = 781  # training_iters = 100000: "while step * batch_size < training_iters"
display_step = 10  # "if step % display_step == 0": no line at step 1
log_format = "iter"  # "Iter " + str(step*batch_size) + ", Minibatch Loss= {:.6f}, ... {:.5f}"
