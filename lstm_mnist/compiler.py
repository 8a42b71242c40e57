"""The C++ compiler that builds the fused LSTM op (fused_lstm.py), found without loading
TensorFlow: a config that asks for lstm_impl = "fused" is checked before TensorFlow loads."""
import os
import platform
import shutil


def compiler():
    """The C++ compiler to build with ($CXX, else g++ or c++), or None."""
    names = [os.environ["CXX"]] if os.environ.get("CXX") else ["g++", "c++"]
    return next(filter(None, map(shutil.which, names)), None)


def missing():
    """What to do when there is no C++ compiler, or None when there is one."""
    if compiler():
        return None
    return ("builds a C++ op and needs a C++ compiler: install g++ (apt-get install g++) or "
            "set CXX, or use lstm_impl=fast")


def cpu_flags():
    """This CPU's instruction sets as /proc/cpuinfo lists them (avx2, avx512f, ...): what
    -march=native builds for."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith("flags")), "").split()[2:]
    except OSError:
        return platform.processor().split()
