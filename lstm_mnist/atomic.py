"""Write-then-rename, the one way this project writes its files and swaps in its folders: a
reader, or a process killed half-way, sees the old version or the new one, never part of one,
and a write that fails leaves no temporary behind.

    write_text("runs/x/config.json", text)
    write_figure("compare.png", fig)          # a matplotlib figure, rendered first
    replace_folder("sweeps/s/runs/a", files)  # {relative path: bytes}, swapped in whole
"""
import contextlib
import errno
import io
import os
import stat
import shutil
import signal
import tempfile
import threading

PREFIX = ".tmp-"   # the temporaries' names: short, so that a long file name still fits beside
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def output(path, suffix=""):
    """A temporary path in `path`'s folder for a block (or a program, such as a compiler) to
    write; renamed over `path` when the block ends well, removed when it does not."""
    refuse_special(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=PREFIX,
                               suffix=suffix)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)   # mkstemp makes 0600; give the usual file mode
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def refuse_special(path):
    """OSError when `path` exists and is not a regular file (a folder, a device such as
    /dev/full, a FIFO): renaming over it would replace it, or fail half-way."""
    with contextlib.suppress(FileNotFoundError):
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            raise OSError(errno.EEXIST if stat.S_ISDIR(mode) else errno.EINVAL,
                          f"it exists and is {kind}", path)


def probe(path):
    """OSError (with the system's reason) unless a file can be written as `path`: the target
    is a regular file or new, and a temporary can be created beside it and removed."""
    refuse_special(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=PREFIX)
    os.close(fd)
    os.unlink(tmp)
    if len(os.path.basename(path).encode()) > os.pathconf(os.path.dirname(os.path.abspath(path)),
                                                          "PC_NAME_MAX"):
        raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), path)


def write_bytes(path, data):
    """Write `data` to `path` through a temporary file in the same folder, synced, then
    renamed over it. OSError as the system gives it; nothing is left behind."""
    with output(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_text(path, text):
    write_bytes(path, text.encode())


def write_figure(path, fig, **savefig):
    """A matplotlib figure as a PNG file: rendered to memory first, then written atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **savefig)
    write_bytes(path, buffer.getvalue())


@contextlib.contextmanager
def ctrl_c_held():
    """Run a block that Ctrl-C must not cut in two: a Ctrl-C meanwhile is raised after it."""
    if threading.current_thread() is not threading.main_thread():   # signals go to main
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def replace_folder(path, files):
    """Put `files` ({relative path: bytes}) in place of the folder `path`: written beside it,
    then swapped in with Ctrl-C held back, so that an interruption leaves the old folder or the
    new one, never neither, and no temporary folder behind."""
    parent, name = os.path.split(os.path.abspath(path))
    tmp = tempfile.mkdtemp(prefix=f"{PREFIX}{name}-", dir=parent)
    try:
        for rel, content in files.items():
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), "wb") as f:
                f.write(content)
        with ctrl_c_held():   # two renames: the old folder aside, the new one in its place
            old = tempfile.mkdtemp(prefix=f"{PREFIX}old-{name}-", dir=parent)
            if os.path.exists(path):
                os.replace(path, os.path.join(old, name))
            os.replace(tmp, path)
            shutil.rmtree(old)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)   # gone after the rename; left by an error
