"""The tutorial, August 2017 edition: what config.py holds, so nothing changes here.

TensorFlow-Examples' examples/3_NeuralNetworks/recurrent_network.py as of August 2017:
BasicLSTMCell(128) + static_rnn, plain gradient descent at 0.001, 10000 steps of 128 images,
a "Step N" line at step 1 and every 200 steps. Published log: reference/tutorial_output.log.

    python train_rnn.py editions/recurrent_network_2017_08.py
"""
