"""The library beside the tutorial: what train_rnn.py and the other scripts at the top level
use, a module per concern (see docs/tutorial.md for the map).

Importing it also makes a Ctrl-C while a script's modules are still loading end the script
with one line and exit status 130, instead of an import traceback.
"""
import os
import signal
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # the project's folder


def _interrupted(signum, frame):
    """Python's Ctrl-C (KeyboardInterrupt), but one line and exit 130 while importing."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            os.write(2, b"# interrupted while loading; nothing was started\n")
            os._exit(130)
        frame = frame.f_back
    raise KeyboardInterrupt


if (threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
    signal.signal(signal.SIGINT, _interrupted)
