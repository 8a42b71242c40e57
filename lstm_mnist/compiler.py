"""The C++ compiler that builds the fused LSTM op (fused_lstm.py), found without loading
TensorFlow: a config that asks for lstm_impl = "fused" is checked before TensorFlow loads."""
import os
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
