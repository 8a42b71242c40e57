"""The fused LSTM (`lstm_impl = "fused"`): the tutorial's BasicLSTMCell + static_rnn as two
custom TensorFlow ops, the whole forward pass and its gradient (fused_lstm.cc). Used by
train_rnn.build_graph; the tests check it against the tutorial's cell and an independent numpy
LSTM.

The op is built from fused_lstm.cc on first use, with the C++ compiler and TensorFlow's own
headers and flags (tf.sysconfig), into a cache folder named by a hash of everything that goes
into it (the source, TensorFlow's version, the compiler and its flags, this CPU's instruction
sets), and loaded with tf.load_op_library. Building takes about a minute, once; it prints one
line (on stderr: the tutorial's log stays as it was).
"""
import contextlib
import fcntl
import hashlib
import os
import platform
import subprocess
import sys

from lstm_mnist import atomic, compiler
from lstm_mnist.tf1 import tf, tf1

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fused_lstm.cc")
GEMM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fused_gemm.h")   # its products
# -march=native: the products' kernel (fused_gemm.h) and the gate maths get this CPU's widest
# vectors (another CPU gets its own build: the cache key holds compiler.cpu_flags())
FLAGS = ["-O3", "-march=native", "-shared", "-fPIC", "-w"]
# Eigen's AVX512-FP16 half-precision code, which -march=native turns on where the CPU has it,
# doesn't compile with g++ 12; the op is float32 and doesn't need it
NO_FP16 = ["-mno-avx512fp16"]
_library = None


class BuildError(Exception):
    """The op can't be built; the message says why and what to do."""


def cache_dir():
    """Where built ops are kept: $LSTM_OPS_CACHE, else ~/.cache/lstm-mnist-ops."""
    return os.environ.get("LSTM_OPS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lstm-mnist-ops")


def build():
    """The op library's path, built first if the cache doesn't hold it.

    Raises:
        BuildError: no compiler, or the build failed.
    """
    cxx = compiler.compiler()
    if not cxx:
        raise BuildError(f"lstm_impl=fused {compiler.missing()}")
    flags = FLAGS + (NO_FP16 if "avx512_fp16" in compiler.cpu_flags() else [])
    command = [cxx, SOURCE, "-std=c++17", f"-I{os.path.dirname(GEMM)}",
               *tf.sysconfig.get_compile_flags(), *flags, *tf.sysconfig.get_link_flags()]
    source = b""
    for name in (SOURCE, GEMM):
        with open(name, "rb") as f:
            source += f.read()
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    # what is built and how, not where the clone lies: the sources' text, not their path
    key = hashlib.sha256(repr((source, tf.__version__, command[4:], version,
                               compiler.cpu_flags(),
                               platform.machine())).encode()).hexdigest()[:16]
    path = os.path.join(cache_dir(), key, "fused_lstm.so")
    if intact(path):
        return path
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        lock = open(path + ".lock", "w")
    except OSError as e:
        raise BuildError(f"can't write the fused op to {cache_dir()} ({e.strerror}); set "
                         "LSTM_OPS_CACHE to a writable folder") from None
    with lock:   # one build at a time: parallel runs (a sweep) wait for the first one's
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not intact(path):
            for name in os.listdir(os.path.dirname(path)):   # a killed build's, or a bad one
                if name.startswith(atomic.PREFIX) or name.startswith("fused_lstm.so") and \
                        name != "fused_lstm.so.lock":
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(os.path.dirname(path), name))
            _compile(command, cxx, path)
    return path


def intact(path):
    """Whether `path` is a library this module built: its hash as recorded after the build (a
    truncated one would kill the process with SIGBUS when loaded, with no message)."""
    try:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        with open(path + ".sha256") as f:
            return f.read().strip() == digest
    except OSError:
        return False


def _usable(data):
    """Why the compiler's output is not the op's library ("" when it is): an ELF file that
    holds the op's registration."""
    if not data.startswith(b"\x7fELF"):
        return f"{len(data)} bytes, not a shared library"
    if b"FusedLstm" not in data:
        return "a shared library without the FusedLstm op"
    return ""


def _compile(command, cxx, path):
    """Compile to `path`: beside it, then renamed, so that it is whole or absent."""
    print(f"# building the fused LSTM op once (about a minute): {os.path.basename(cxx)} "
          f"fused_lstm.cc -> {path}", file=sys.stderr, flush=True)
    with atomic.output(path, suffix=".so") as tmp:
        r = subprocess.run([*command, "-o", tmp], capture_output=True, text=True)
        if r.returncode != 0:
            log = os.path.join(os.path.dirname(path), "build.log")
            atomic.write_text(log, " ".join(command) + "\n" + r.stdout + r.stderr)
            raise BuildError(f"building the fused LSTM op failed ({cxx} exit {r.returncode}; "
                             f"its output is in {log}); use lstm_impl=fast meanwhile")
        with open(tmp, "rb") as f:
            data = f.read()
        if why := _usable(data):   # e.g. CXX=/bin/true: exit 0, an empty file
            raise BuildError(f"{cxx} made no usable library ({why}); set CXX to a C++ "
                             "compiler such as g++, or use lstm_impl=fast")
    atomic.write_text(path + ".sha256", hashlib.sha256(data).hexdigest() + "\n")


def library():
    """The loaded op library (built on first use), its gradient registered."""
    global _library
    if _library is None:
        _library = tf.load_op_library(build())
        tf.RegisterGradient("FusedLstm")(_fused_lstm_grad)
    return _library


def _fused_lstm_grad(op, dh, dcs, dgates, dlast):
    """FusedLstmGrad: d loss / d (kernel, bias) from d loss / d (h, last). The cell states and
    gates are the gradient's inputs, not results anyone differentiates (their gradients are
    None); X is fed: no gradient.

    Training differentiates `last` only: d h is then TensorFlow's zeros for an output no loss
    reads (ZerosLike, built only if something runs it), and the op is told so with an empty
    tensor instead of reading a (B, T, H) buffer of zeros every step."""
    x, kernel, _ = op.inputs
    h, cs, gates, last = op.outputs
    if dh is None or dh.op.type == "ZerosLike":
        dh = tf.zeros([0, 0, 0])
    if dlast is None:
        dlast = tf.zeros_like(last)
    dkernel, dbias = library().fused_lstm_grad(x, kernel, h, cs, gates, dh, dlast,
                                               shards=op.get_attr("shards"))
    return None, dkernel, dbias


def fused_lstm(X, num_hidden, forget_bias, shards=2):
    """BasicLSTMCell + static_rnn as one op; returns every timestep's output (B, T, H) and the
    last one (B, H), the same values as h[:, -1] (a training step that reads it gets its
    gradient without a (B, T, H) gradient of zeros).

    The same mathematics, gate order (i, j, f, o), forget_bias added at run time and variables
    (rnn/basic_lstm_cell/kernel [I + H, 4H], bias [4H]) as the tutorial's cell, so checkpoints
    move between basic, fast and fused. The batch is split in `shards` slices that run on
    separate cores (tf1.session_config gives the op `shards` intra-op threads).
    """
    I = X.shape.as_list()[2]
    with tf1.variable_scope("rnn/basic_lstm_cell"):   # the names static_rnn gives them
        kernel = tf1.get_variable("kernel", [I + num_hidden, 4 * num_hidden])
        bias = tf1.get_variable("bias", [4 * num_hidden], initializer=tf1.zeros_initializer())
    h, _, _, last = library().fused_lstm(X, kernel, bias, forget_bias=forget_bias, shards=shards)
    return h, last
