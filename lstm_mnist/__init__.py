"""The library beside the tutorial: what train_rnn.py and the other scripts at the top level
use, a module per concern (see docs/tutorial.md for the map).

Importing it also makes a Ctrl-C while a script's modules are still loading end the script
with one line and exit status 130, instead of an import traceback, and a package missing from
the Python that runs a script (not the project's .venv, say) one line naming the package, its
requirements file and the fix.
"""
import os
import re
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


REQUIREMENTS = ("requirements.txt", "requirements-mnist.txt", "requirements-bench.txt",
                "requirements-dev.txt")
IMPORT_NAMES = {"PIL": "pillow"}   # import name -> distribution, where they differ


def requirement_for(module):
    """(the requirement's text, its file) of the distribution that provides `module`, or None."""
    wanted = {IMPORT_NAMES.get(module, module).lower().replace("_", "-")}
    for name in REQUIREMENTS:
        try:
            with open(os.path.join(ROOT, name)) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            spec = line.split("#")[0].strip()
            if spec and not spec.startswith("-"):
                if re.split(r"[=<>!~\[;\s]", spec)[0].lower().replace("_", "-") in wanted:
                    return spec, name
    return None


def missing_package_line(module, script):
    """The one line for a script stopped by `import module`, where this Python lacks it."""
    found = requirement_for(module)
    what, listed = (f" ({found[0]} in {found[1]})", found[1]) if found else ("", "requirements.txt")
    venv = os.path.join(ROOT, ".venv")
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        fix = f"install it into .venv: .venv/bin/pip install -r {listed}"
    elif os.path.exists(os.path.join(venv, "bin", "python")):
        fix = ("the project's packages are in .venv: run `. .venv/bin/activate` first, "
               f"or .venv/bin/python {script}")
    else:
        fix = f"`make run` sets up .venv with them (or: pip install -r {listed})"
    return f"{script}: error: this Python ({sys.executable}) has no package {module!r}{what}; {fix}"


def _missing_package(kind, error, tb):
    """An uncaught ModuleNotFoundError for a package (not one of the project's modules): one
    line, exit status 1; anything else: Python's own traceback."""
    top = (getattr(error, "name", None) or "").split(".")[0]
    ours = top and (os.path.exists(os.path.join(ROOT, top + ".py"))
                    or os.path.isdir(os.path.join(ROOT, top)))
    if not issubclass(kind, ModuleNotFoundError) or not top or ours:
        return sys.__excepthook__(kind, error, tb)
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    print(missing_package_line(top, script), file=sys.stderr)


if sys.excepthook is sys.__excepthook__:
    sys.excepthook = _missing_package
