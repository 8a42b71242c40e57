"""The fast LSTM (`lstm_impl = "fast"`): the tutorial's BasicLSTMCell + static_rnn, same math,
fewer, bigger and fused ops. Used by train_rnn.build_graph; the tests check it against the
tutorial's cell and an independent numpy LSTM.
"""
import numpy as np

from lstm_mnist.tf1 import tf, tf1


def fast_lstm(X, num_hidden, forget_bias, shards=2):
    """BasicLSTMCell + static_rnn with fewer, bigger and fused ops; returns the last output (B, H).

    The same mathematics, gate order (i, j, f, o), forget_bias added at run time and variables
    (basic_lstm_cell/kernel [I + H, 4H], bias [4H]), so checkpoints move between the two. What
    makes it faster, each measured with bench.py:
      - the input projection of all timesteps is one matrix product;
      - backward, each timestep is one fused LSTMBlockCellGrad op and one matmul, and the
        weight and bias gradients of all timesteps come from one product (a custom gradient);
      - the batch is split in `shards` independent halves that run on separate cores
        (tf1.session_config gives it one inter-op thread per shard); small matrices
        don't gain from multi-threaded matmuls, independent chains do.
    """
    _, T, I = X.shape.as_list()
    H = num_hidden
    with tf1.variable_scope("rnn/basic_lstm_cell"):   # the names static_rnn gives them
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
