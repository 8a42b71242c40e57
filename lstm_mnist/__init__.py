"""The library beside the tutorial: what train_rnn.py and the other scripts at the top level
use, a module per concern (see docs/tutorial.md for the map).

Importing it also makes a Ctrl-C while a script's modules are still loading end the script
with one line and exit status 130, instead of an import traceback, and a package missing from
the Python that runs a script (not the project's .venv, say) one line naming the package, its
requirements file and the fix.
"""
import os
import signal
import sys
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


def _missing_package(kind, error, tb):
    """An uncaught ModuleNotFoundError for a package (not one of the project's modules): one
    line, exit status 1; anything else: Python's own traceback."""
    top = (getattr(error, "name", None) or "").split(".")[0]
    ours = top and (os.path.exists(os.path.join(ROOT, top + ".py"))
                    or os.path.isdir(os.path.join(ROOT, top)))
    if not issubclass(kind, ModuleNotFoundError) or not top or ours:
        return sys.__excepthook__(kind, error, tb)
    from lstm_mnist import environment   # the requirements files and .venv (standard library)
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    print(environment.missing_package_line(top, script), file=sys.stderr)


if sys.excepthook is sys.__excepthook__:
    sys.excepthook = _missing_package
