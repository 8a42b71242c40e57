"""The bidirectional example, August 2017 edition, over config.py.

TensorFlow-Examples' notebooks/3_NeuralNetworks/bidirectional_rnn.ipynb at 90bb4de (2017-08-29):
the tutorial's training and log, but static_bidirectional_rnn over a forward and a backward
BasicLSTMCell(128) and an output layer [2*128, 10] on outputs[-1].
Published log: reference/editions/bidirectional_rnn_2017_08.log.

    python train_rnn.py editions/bidirectional_rnn_2017_08.py
"""

bidirectional = True  # rnn.static_bidirectional_rnn(lstm_fw_cell, lstm_bw_cell, x)
