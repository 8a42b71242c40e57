"""The tutorial's log, written and read here only: its display lines (August 2017's `Step N`,
January 2017's `Iter N*batch_size`), its two last lines, and this project's `#` lines (the seed
line that starts a log, the accuracy on all test images, a divergence).

    run.log(display_line("step", 200, 2.1134, 0.352))   # Step 200, Minibatch Loss= 2.1134, ...
    log = read("runs/NAME/log.txt")                     # Log(steps=(1, 200, ...), loss=...)

train_rnn.py writes these lines; runs.py, bands.py, compare_log.py, make_band.py and sweep.py
read them back through `parse` and `Log`.
"""
import contextlib
import dataclasses
import math
import os
import re
import stat

import numpy as np

# half the last digit each value is printed with: the rounding every log carries
ROUNDING = {"step": (0.00005, 0.0005), "iter": (0.0000005, 0.000005)}   # (loss, accuracy)
FINISHED = "Optimization Finished!"
# a log of 10000 steps with a line at each is 0.7 MB: anything far larger is no log of one run
MAX_BYTES = 64 * 2**20

_DISPLAY = re.compile(r"^(Step|Iter) (\d+), Minibatch Loss= ([-+0-9.eE]+|nan|inf), "
                      r"Training Accuracy= ([0-9.]+)\s*$")
_TESTING = re.compile(r"^Testing Accuracy: ([0-9.eE-]+)\s*$")
_ALL_TEST = re.compile(r"^# Testing Accuracy on all (\d+) test images: ([0-9.]+)\s*$")
_DIVERGED = re.compile(r"^# diverged: (.*?at step (\d+).*)$")
_SEED = re.compile(r"^# seed (\d+); repeat this run with: (.*)$")
_SHOWN = re.compile(r"^(Step|Iter) (\d+),")


class LogError(Exception):
    """The log can't be read as a run of the tutorial; the message says why."""


# ---------------------------------------------------------------------------------------------
# Writing

def shows(log_format, step, display_step):
    """Whether the loop prints a display line after `step`: every display_step, and also at step
    1 in the August 2017 format."""
    return step % display_step == 0 or (step == 1 and log_format == "step")


def display_line(log_format, step, loss, accuracy, batch_size=128):
    """The line the tutorial prints at a display step, byte for byte as in 2017."""
    if log_format == "step":   # the August 2017 edition's line
        return ("Step " + str(step) + ", Minibatch Loss= " + "{:.4f}".format(loss)
                + ", Training Accuracy= " + "{:.3f}".format(accuracy))
    # the January 2017 edition's, counting images, without a step-1 line
    return ("Iter " + str(step * batch_size) + ", Minibatch Loss= " + "{:.6f}".format(loss)
            + ", Training Accuracy= " + "{:.5f}".format(accuracy))


def testing_accuracy_line(accuracy):
    """The tutorial's last line: the accuracy on its first test_len test images."""
    return "Testing Accuracy: " + str(accuracy)


def all_test_images_line(count, accuracy):
    return f"# Testing Accuracy on all {count} test images: {accuracy:.4f}"


def seed_line(seed, command):
    """The line that starts every log train_rnn.py prints: its seed and how to repeat it."""
    return f"# seed {seed}; repeat this run with: {command}"


def diverged_line(why):
    """The line a run folder's log.txt ends with when the loss diverged (`why` says at which
    step, 'at step N')."""
    return f"# diverged: {why}"


# ---------------------------------------------------------------------------------------------
# Reading

@dataclasses.dataclass(frozen=True)
class Log:
    """The tutorial's lines of one log. steps are training steps in both formats (an Iter line's
    count divided by the batch size); loss and accuracy are one value a display step."""
    format: str                      # "step" or "iter"
    steps: tuple
    loss: tuple
    accuracy: tuple
    test_accuracy: float | None      # the tutorial's first-test_len accuracy; None: not there
    test_accuracy_full: float | None  # on all test images, or None
    diverged: str | None             # "diverged at step N (why)", or None
    seed: int | None = None          # from the seed line, when the log starts with one
    command: str | None = None       # ... and the command that repeats it

    def points(self, steps):
        """(2, k) the loss and accuracy at `steps`, some of this log's display steps."""
        keep = [self.steps.index(s) for s in steps]
        return np.array([[self.loss[i] for i in keep], [self.accuracy[i] for i in keep]])

    def values(self, key):
        return self.loss if key == "loss" else self.accuracy


def seed_and_command(first_line):
    """(seed, repeat command) of a log's first line, or (None, None) without a seed line."""
    m = _SEED.match(first_line.strip())
    return (int(m[1]), m[2]) if m else (None, None)


def _number(text, line, name, share=False):
    """The number `text` of `line`: a loss (at least 0, or nan/inf: diverged) or, `share`, an
    accuracy (0..1). LogError otherwise: no run prints such a value."""
    try:
        value = float(text)
    except ValueError:
        raise LogError(f"{name}: {line.strip()!r} holds {text!r}, not a number; is the log "
                       "damaged?") from None
    if value < 0 or share and not 0 <= value <= 1:
        raise LogError(f"{name}: {line.strip()!r} holds {text!r}, outside "
                       f"{'0..1' if share else '0 and up'}; is the log damaged?")
    return value


def parse(text, name="log", complete=True, batch_size=128):
    """The tutorial's lines in `text`, everything else ignored.

    Raises:
        LogError: no Step or Iter lines, both kinds, duplicated or missing steps, a malformed
        number, or (`complete`) no final accuracy line.
    """
    steps, loss, accuracy, formats = [], [], [], set()
    test_accuracy = full = diverged = None
    lines = text.splitlines()
    for line in lines:
        if m := _DISPLAY.match(line):
            formats.add(m[1])
            count = int(m[2])
            if m[1] == "Iter":
                if count % batch_size:
                    raise LogError(f"{name}: 'Iter {count}' is not a multiple of the batch size "
                                   f"{batch_size}; is it a log of this tutorial?")
                count //= batch_size
            steps.append(count)
            loss.append(_number(m[3], line, name))
            accuracy.append(_number(m[4], line, name, share=True))
            if not math.isfinite(loss[-1]) and not diverged:
                diverged = f"diverged at step {count} (the loss became {m[3]})"
        elif m := _TESTING.match(line):
            test_accuracy = _number(m[1], line, name, share=True)
        elif m := _ALL_TEST.match(line):
            full = _number(m[2], line, name, share=True)
        elif m := _DIVERGED.match(line):
            diverged = f"diverged at step {m[2]} ({m[1].split(' at step')[0]})"
    if not steps:
        raise LogError(f"{name}: no 'Step N, Minibatch Loss= ...' (or 'Iter N, ...') lines; is "
                       "it a log of train_rnn.py?")
    if len(formats) > 1:
        raise LogError(f"{name}: it has both 'Step' and 'Iter' lines; use the log of one run")
    fmt = "step" if formats == {"Step"} else "iter"
    _check_steps(steps, fmt, name)
    if test_accuracy is None and complete:
        if diverged:
            raise LogError(f"{name}: the run {diverged}")
        raise LogError(f"{name}: no 'Testing Accuracy:' line; the log is truncated "
                       f"(last step {steps[-1]}), let the run finish")
    seed, command = seed_and_command(lines[0] if lines else "")
    return Log(fmt, tuple(steps), tuple(loss), tuple(accuracy), test_accuracy, full, diverged,
               seed, command)


def _check_steps(steps, fmt, name):
    """LogError unless `steps` are 1, d, 2d, ... (Step lines) or d, 2d, ... (Iter lines)."""
    if len(set(steps)) != len(steps):
        dup = next(s for s in steps if steps.count(s) > 1)
        raise LogError(f"{name}: step {dup} appears more than once; use the log of one run")
    if fmt == "step":
        display = steps[1] if len(steps) > 1 else None
        expected = [1] + [display * k for k in range(1, len(steps))] if display else [1]
        first = [1, display, 2 * (display or 0)]
    else:
        display = steps[0]
        expected = [display * k for k in range(1, len(steps) + 1)]
        first = [display, 2 * display, 3 * display]
    if steps != expected:
        gap = next(e for s, e in zip(steps, expected) if s != e)
        raise LogError(f"{name}: steps don't follow {', '.join(map(str, first))}, ...: "
                       f"step {gap} is missing or out of order")


def read_text(path):
    """A log file's text (a run folder: its log.txt); LogError when it can't be read."""
    if os.path.isdir(path):
        path = os.path.join(path, "log.txt")
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):   # a FIFO would wait, /dev/zero never end
            raise LogError(f"{path}: not a regular file (a folder, FIFO or device); give a log "
                           "file or a run folder")
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise LogError(f"{path}: larger than {MAX_BYTES // 2**20} MB, far more than any "
                           "run's log; give the log of one run")
    except OSError as e:
        raise LogError(f"{path}: cannot read ({e.strerror}); give a log file or a run "
                       "folder") from None
    if not raw.strip():
        raise LogError(f"{path}: the file is empty")
    return raw.decode("utf-8", errors="replace")


def read(path, complete=True, batch_size=128):
    """parse() of a log file, or of a run folder's log.txt."""
    if os.path.isdir(path):
        path = os.path.join(path, "log.txt")
    return parse(read_text(path), path, complete, batch_size)


def through(text, step, batch_size):
    """The lines of `text` up to display step `step`: what a run resumed after `step` keeps of
    its log (it prints the rest again)."""
    kept = []
    for line in text.splitlines(keepends=True):
        m = _SHOWN.match(line)
        shown = m and int(m[2]) // (batch_size if m[1] == "Iter" else 1)
        if m and shown > step or not m and kept and not line.startswith("# seed"):
            break
        kept.append(line)
    return "".join(kept)


def outcome(text):
    """What a run's log says of its end, however far it got: ((test images, accuracy on all of
    them) or None, the divergence's text or None)."""
    full = diverged = None
    for line in text.splitlines():
        if m := _ALL_TEST.match(line):
            with contextlib.suppress(ValueError):   # damaged: as if never measured
                full = (int(m[1]), float(m[2]))
                if not 0 <= full[1] <= 1:
                    full = None
        elif line.startswith("# diverged: "):
            diverged = line[len("# diverged: "):].strip()
    return full, diverged


def diverged_step(why):
    """The step a divergence's text names ('... at step N ...'), or None."""
    m = re.search(r"at step (\d+)", why or "")
    return int(m[1]) if m else None
