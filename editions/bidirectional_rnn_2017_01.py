"""The bidirectional example, January 2017 edition, over config.py.

TensorFlow-Examples' bidirectional_rnn notebook as it ran in January 2017: the January
recurrent_network edition (Adam, 100000 images, `Iter` lines) with the bidirectional network of
bidirectional_rnn_2017_08.py. No log of it is kept here: its band stands on its own seeds.

    python train_rnn.py editions/bidirectional_rnn_2017_01.py
"""

bidirectional = True  # rnn.static_bidirectional_rnn(lstm_fw_cell, lstm_bw_cell, x)
optimizer = "adam"  # tf.train.AdamOptimizer(learning_rate=0.001)
training_steps = 781  # training_iters = 100000: "while step * batch_size < training_iters"
display_step = 10  # "if step % display_step == 0": no line at step 1
log_format = "iter"  # "Iter " + str(step*batch_size) + ", Minibatch Loss= {:.6f}, ... {:.5f}"
