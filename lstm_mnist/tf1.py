"""TensorFlow 2.21 as TensorFlow 1: import `tf` and `tf1` from here, never tensorflow directly.

    from lstm_mnist.tf1 import tf, tf1      # tf1 = tf.compat.v1; graphs and Sessions, as in 2017

Used by train_rnn.py, predict.py, bench.py and the tests. What it sets up, once, at import:
  - TF_USE_LEGACY_KERAS=1 before TensorFlow loads: BasicLSTMCell lives on only in the legacy
    Keras cells (the tf-keras package); without it TF 2.21 says "BasicLSTMCell is not
    available with Keras 3";
  - a quiet import: TensorFlow's C++ start-up chatter would drown the tutorial's log, and in 2.21
    part of it ignores TF_CPP_MIN_LOG_LEVEL, so file descriptor 2 is filtered while it loads;
  - graph mode (eager execution off) and no deprecation notices for the compat API used on purpose;
  - Ctrl-C while it loads (a few seconds) ends the program with one line, not an import traceback;
  - glibc's malloc keeps freed memory for reuse (reuse_freed_memory).
"""
import contextlib
import ctypes
import os
import re
import signal
import sys
import tempfile
import threading
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def reuse_freed_memory():
    """Have glibc's malloc keep freed memory for the next allocation instead of handing it back
    to the kernel. A training step allocates and frees the same tensors each step (the fused
    LSTM's 7 MB of gates, say); by default glibc hands some of them back (mmap below an adaptive
    threshold, trimming above another) and the next step faults them in again, page by page,
    zeroed. With basic and fast sessions in the same process, as bench.py has them, the fused
    step took 190-430 page faults and 0.6-1.2 ms of kernel time a step; so, 0-9 faults and
    0.0-0.16 ms (docs/speed.md). Fixed thresholds: blocks up to 32 MB (glibc's largest) come
    from the heap, and up to 256 MB of freed heap stays with the process. Elsewhere than glibc
    (no mallopt) nothing is set."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # malloc.h
        mallopt(M_MMAP_THRESHOLD, 32 << 20)
        mallopt(M_TRIM_THRESHOLD, 256 << 20)


reuse_freed_memory()

# C++ lines that TensorFlow prints while it loads, whatever TF_CPP_MIN_LOG_LEVEL says
_LOAD_NOISE = re.compile(r"absl::InitializeLog|cudart_stub|cpu_feature_guard|To enable the "
                         r"following instructions|oneDNN custom operations|Unable to register "
                         r"cu(DNN|FFT|BLAS) factory|computation placer|TF-TRT Warning|cuInit")


@contextlib.contextmanager
def _quiet_load():
    """Run a block with file descriptor 2 captured; pass on all but the known load noise."""
    sys.stderr.flush()
    saved = os.dup(2)

    def interrupted(signum, frame):   # nothing has started yet: nothing to save or say but this
        os.write(saved, "# interrupted while TensorFlow loaded; nothing was started\n".encode())
        os._exit(130)

    main = threading.current_thread() is threading.main_thread()   # where signals are handled
    previous = signal.signal(signal.SIGINT, interrupted) if main else None
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not _LOAD_NOISE.search(line):
                    sys.stderr.write(line)


_tensorflow = None
_on_load = []   # functions to call with TensorFlow once it has loaded (on_load)


def load_tensorflow():
    """TensorFlow, imported and set up the first time it is asked for."""
    global _tensorflow
    if _tensorflow is None:
        with _quiet_load():
            import tensorflow
            import tf_keras  # noqa: F401  (loaded here, not at the first cell, to quiet it too)
        tensorflow.compat.v1.disable_eager_execution()
        tensorflow.get_logger().setLevel("ERROR")   # notices of the compat API used on purpose
        warnings.filterwarnings("ignore", module=r"(tensorflow|tf_keras|keras)\b")
        warnings.filterwarnings(
            "ignore", message=r".*(rnn_cell|BasicLSTMCell|static_rnn|static_bidirectional_rnn)"
                              r".*deprecated")
        _tensorflow = tensorflow
        for function in _on_load:
            function(tensorflow)
    return _tensorflow


def on_load(function):
    """Call function(tf) once TensorFlow has loaded (now, if it has): a module's set-up that
    needs TensorFlow, without loading it at import."""
    if _tensorflow is not None:
        function(_tensorflow)
    else:
        _on_load.append(function)
    return function


class _Lazy:
    """A stand-in for a module of TensorFlow's that loads TensorFlow at its first attribute."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        return getattr(self._module(), name)

    def __repr__(self):
        return f"<TensorFlow, {'loaded' if _tensorflow else 'loaded at first use'}>"


tf = _Lazy(load_tensorflow)
tf1 = _Lazy(lambda: load_tensorflow().compat.v1)


def session_config(cfg):
    """Session settings: op determinism, so that one seed gives one log; for the fast LSTM, one
    single-threaded inter-op thread per batch shard, which suits its small matrices; for the
    fused one, one intra-op thread per shard of its op."""
    tf.config.experimental.enable_op_determinism()
    if cfg.lstm_impl == "fast":
        return tf1.ConfigProto(inter_op_parallelism_threads=2, intra_op_parallelism_threads=1,
                               use_per_session_threads=True)  # not the global pools
    if cfg.lstm_impl == "fused":   # its op runs its two batch shards on the intra-op threads
        return tf1.ConfigProto(inter_op_parallelism_threads=1, intra_op_parallelism_threads=2,
                               use_per_session_threads=True)
    return tf1.ConfigProto()
