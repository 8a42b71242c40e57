"""Everything around the training loop that is not the tutorial: the run folder (log.txt,
config.json, timing.json with its speed), checkpoints with the data state and exact resume,
TensorBoard events, the progress bar and Ctrl-C.

train_rnn.train() reaches it through one `Run` object, in five calls:

    run.setup(graph, mnist.train)    # in the graph, before init: checkpoint variables
    with run:                        # log file, TensorBoard writer, Ctrl-C handler
        first = run.start(sess)      # 1, or the step after the resumed checkpoint
        run.log(line); run.scalars(step, loss=...)
        run.step_done(sess, step)    # progress bar, checkpoints; Ctrl-C stops here

`Run` alone prints; `RunFolder` also writes the run folder. `open_run` makes the right one for a
command line (new, resumed or no folder) and turns Ctrl-C into a message and exit status 130.
"""
import argparse
import contextlib
import dataclasses
import errno
import fcntl
import itertools
import json
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import threading
import time
import types

import numpy as np
from tqdm import tqdm

from lstm_mnist import atomic, mistakes, published, settings, tutorial_log
from lstm_mnist.cli import check_config
from lstm_mnist.settings import repeat_command
from lstm_mnist import tf1 as tf1_module
from lstm_mnist.tf1 import tf, tf1

RESUMABLE = {"training_steps", "checkpoint_every", "keep_checkpoints", "data_dir", "runs_dir",
             "lstm_impl"}  # what may change when a run is resumed


# what every config.json has recorded, since the first run folders: without them it
# describes no run
RECORDED = ("learning_rate", "training_steps", "batch_size", "display_step", "num_input",
            "timesteps", "num_hidden", "num_classes")

KEEP = object()   # write_config: keep the edition config.json records


class RunError(Exception):
    """A run folder or checkpoint can't be used; the message says which and what to do."""


class AlreadyFinished(Exception):
    """A run to resume has trained all its steps already: nothing to do (the message says so)."""


class TrainingDiverged(Exception):
    """The loss became NaN or infinite; a run folder's log records it (predict.py skips such
    runs)."""


def note(message):
    print(f"# {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The loop's companion: printing, progress, Ctrl-C; with a folder, also log, events, checkpoints

class Run:
    """What the training loop reports to, without a run folder: lines go to `log` (stdout)."""

    def __init__(self, cfg, log=None):
        self.cfg = cfg
        self._print = log or (lambda line: print(line, flush=True))
        self.bar = None
        self.stop_requested = False

    def setup(self, graph, train_set):
        """Called in `graph` before its variables are initialized."""

    def __enter__(self):
        # While training, the first Ctrl-C only sets a flag, so the loop can save and stop.
        self.previous_sigint = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous_sigint)
        if self.bar is not None:
            self.bar.close()

    def _on_sigint(self, signum, frame):
        self.stop_requested = True
        signal.signal(signal.SIGINT, self.previous_sigint)   # a second Ctrl-C stops at once

    def start(self, sess):
        """The first step to train, after loading what is to be resumed into `sess`."""
        return self._progress(1)

    def _progress(self, first):
        """A tqdm bar on stderr when it is a terminal; nothing otherwise, so logs stay clean."""
        self.bar = tqdm(total=self.cfg.training_steps, initial=first - 1, unit="step",
                        file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True,
                        mininterval=0.5)
        return first

    def log(self, line):
        if self.bar is not None and not self.bar.disable:
            self.bar.write(line, file=sys.stdout)
        else:
            self._print(line)

    def scalars(self, step, **values):
        """Numbers for TensorBoard (with a run folder)."""

    def step_done(self, sess, step):
        """After each training step; raises KeyboardInterrupt(step) once Ctrl-C was pressed."""
        self.bar.update(1)
        if step == self.cfg.training_steps:
            self.bar.close()
        if self.stop_requested:
            raise KeyboardInterrupt(step)


class RunFolder(Run):
    """A Run that also keeps log.txt, TensorBoard events and checkpoints in `run_dir`.

    A resumed run changes nothing in its folder until its checkpoint is loaded: a resume that
    fails leaves the folder as it was. Every write that fails (a full disk) ends the run with a
    RunError naming the folder and what failed; the newest checkpoint stays the one to resume.
    """

    def __init__(self, cfg, run_dir, seed, resume_step=None, log=None):
        super().__init__(cfg, log)
        self.run_dir, self.seed, self.resume_step = run_dir, seed, resume_step
        self.file = self.writer = None

    def setup(self, graph, train_set):
        self.graph = graph
        self.checkpointer = Checkpointer(train_set, self.cfg.keep_checkpoints, self.run_dir)

    def __exit__(self, kind, error, traceback):
        super().__exit__(kind, error, traceback)
        # a write that fails while another error ends the run is that error's consequence
        quietly = contextlib.suppress(Exception) if error else contextlib.nullcontext()
        with quietly, self._writing("log.txt"):
            if self.file:
                if isinstance(error, TrainingDiverged):
                    self.file.write(tutorial_log.diverged_line(error) + "\n")
                self.file.close()
        with quietly, self._writing("TensorBoard events"):
            if self.writer:
                self.writer.close()

    def start(self, sess):
        first = 1
        if self.resume_step:                # else new, or stopped before its first checkpoint
            first = self.checkpointer.restore(sess, self.resume_step) + 1
        if self.resume_step is not None:    # loaded: now the run's files may change
            with self._writing("log.txt"):
                truncate_log(self.run_dir, first - 1, self.cfg.batch_size)
            with self._writing("config.json"):
                write_config(self.run_dir, self.cfg, self.seed)   # a longer training_steps
        with self._writing("log.txt"):
            self.file = open(os.path.join(self.run_dir, "log.txt"), "a")
        with self._writing("TensorBoard events"):
            self.writer = tf1.summary.FileWriter(self.run_dir, self.graph)
            if self.resume_step is not None:   # TensorBoard drops the earlier try's events
                self.writer.add_session_log(tf1.SessionLog(status=tf1.SessionLog.START), first)
        self.first, self.started = first, time.perf_counter()   # for timing.json
        return self._progress(first)

    @contextlib.contextmanager
    def _writing(self, what):
        """Turn a failed write of `what` into one RunError naming the folder and the cause."""
        try:
            yield
        except (OSError, RuntimeError, tf.errors.OpError) as e:   # RuntimeError: the events
            full = getattr(e, "errno", None) == errno.ENOSPC or "space left" in str(e).lower()
            cause = ("no space left on device" if full else e.strerror
                     if isinstance(e, OSError) and e.strerror
                     else str(e).strip().splitlines()[0][:160])
            need = (f"; a checkpoint needs about {self.checkpointer.size_mb():.1f} MB free "
                    f"there" if full and hasattr(self, "checkpointer") else "")
            raise RunError(f"cannot write {what} in {self.run_dir} ({cause}){need}; the newest "
                           f"checkpoint is intact: free space, then resume with python "
                           f"train_rnn.py --resume {self.run_dir}") from None

    def log(self, line):
        super().log(line)
        with self._writing("log.txt"):
            self.file.write(line + "\n")
            self.file.flush()

    def scalars(self, step, **values):
        summary = tf1.Summary(value=[tf1.Summary.Value(tag=tag, simple_value=float(v))
                                     for tag, v in values.items()])
        with self._writing("TensorBoard events"):
            self.writer.add_summary(summary, step)

    def step_done(self, sess, step):
        if (step % self.cfg.checkpoint_every == 0 or step == self.cfg.training_steps
                or self.stop_requested):
            with self._writing(f"checkpoint ckpt-{step}"):
                self.checkpointer.save(sess, step)
        if step == self.cfg.training_steps:   # this process's speed, for sweep.py
            seconds = time.perf_counter() - self.started
            steps = step - self.first + 1
            with self._writing("timing.json"):
                atomic.write_text(os.path.join(self.run_dir, "timing.json"), json.dumps(
                    {"first_step": self.first, "last_step": step, "seconds": round(seconds, 3),
                     "ms_per_step": round(1000 * seconds / steps, 3),
                     "cores": len(os.sched_getaffinity(0))}) + "\n")
        super().step_done(sess, step)


@tf1_module.on_load
def _quiet_event_writer_thread(tf):
    """TensorBoard's writer thread reports a failed write (a full disk) with a log line and a
    thread traceback, then raises it again at the next flush or close, where _writing turns it
    into one line: keep only that one. Set up once, when TensorFlow loads."""
    class Drop(logging.Filter):
        def filter(self, record):
            return "EventFileWriter writer thread error" not in record.getMessage()
    tf.get_logger().addFilter(Drop())
    default = threading.excepthook

    def hook(args):
        if args.thread is None or args.thread.name != "EventLoggerThread":
            default(args)
    threading.excepthook = hook


class Checkpointer:
    """A Saver for the model and the data pipeline's state, in one TF checkpoint.

    Resuming needs the step and the train set's permutation, position, epoch count and RNG
    state as well as the weights; they are variables here, so one checkpoint holds them all and
    TensorFlow writes it atomically.
    """

    def __init__(self, dataset, keep, run_dir):
        self.dataset, self.run_dir = dataset, run_dir
        self.state, self.feeds, assigns = {}, {}, []
        with tf1.variable_scope("resume_state"):
            for key, value in dict(dataset.get_state(), step=np.int64(0)).items():
                dtype = tf.float64 if np.asarray(value).dtype.kind == "f" else tf.int64
                var = tf1.get_variable(key, shape=np.shape(value), dtype=dtype, trainable=False,
                                       initializer=tf1.zeros_initializer())
                self.feeds[key] = tf1.placeholder(dtype, np.shape(value))
                self.state[key] = var
                assigns.append(var.assign(self.feeds[key]))
        self.assign = tf.group(*assigns)
        self.saver = tf1.train.Saver(max_to_keep=keep, save_relative_paths=True)
        self.variables = tf1.global_variables()

    def size_mb(self):
        """What one checkpoint takes on disk, about: its variables' bytes."""
        return sum(v.shape.num_elements() * v.dtype.size for v in self.variables) / 2**20

    def save(self, sess, step):
        state = dict(self.dataset.get_state(), step=step)
        feed = {self.feeds[k]: np.asarray(v, dtype=self.feeds[k].dtype.as_numpy_dtype)
                for k, v in state.items()}
        sess.run(self.assign, feed)
        self.saver.save(sess, os.path.join(self.run_dir, "ckpt"), global_step=step,
                        write_meta_graph=False)

    def restore(self, sess, step):
        """Load the run's checkpoint of `step` into `sess` and the data set; return its step."""
        path = os.path.join(self.run_dir, f"ckpt-{step}")
        # the Saver would load a tensor of another shape into a variable: compare them first
        with contextlib.suppress(tf.errors.OpError, ValueError):
            saved = tf1.train.load_checkpoint(path).get_variable_to_shape_map()
            for var in self.variables:
                name, shape = var.op.name, var.shape.as_list()
                if name not in saved or saved[name] != shape:
                    found = f"{saved[name]} in the checkpoint" if name in saved else "missing"
                    raise RunError(f"checkpoint {path} does not match this model ({name}: "
                                   f"{shape} here, {found}); resume with the run's own config")
        try:
            self.saver.restore(sess, path)
        except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError) as e:
            first = str(e).strip().splitlines()[0][:200]
            raise RunError(f"checkpoint {path} does not match this model ({first}); resume "
                           "with the run's own config") from None
        except (tf.errors.DataLossError, tf.errors.OpError, ValueError) as e:
            first = str(e).strip().splitlines()[0][:200]
            raise RunError(f"checkpoint {path} is corrupted ({first}); delete it to resume from "
                           "an earlier one, or start a new run") from None
        state = dict(zip(self.state, sess.run(list(self.state.values()))))
        self.dataset.set_state(state)
        # the earlier process's checkpoints count towards keep_checkpoints too (not those
        # after `step`: skipped as unreadable, they are overwritten or left behind)
        self.saver.recover_last_checkpoints([os.path.join(self.run_dir, f"ckpt-{s}")
                                             for s in sorted(checkpoint_steps(self.run_dir))
                                             if s <= step])
        return int(state["step"])


# ---------------------------------------------------------------------------------------------
# The command line's run: new, resumed, or none

def add_arguments(parser):
    """--resume and --run_name, beside the config keys."""
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in this folder "
                        "from its newest checkpoint")
    parser.add_argument("--run_name", type=_run_name,
                        help="name of the run folder (default: a timestamp)")


def _run_name(name):
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise argparse.ArgumentTypeError(f"must be one plain folder name (no '/', not '..', "
                                         f"not empty), got {name!r}")
    return name


def config_and_seed(cfg, args):
    """The run's config and seed: a resumed run's own, else `cfg` with its seed or one drawn."""
    if args.resume:
        if getattr(args, "edition", None):
            raise RunError(f"{args.resume} resumes with the config it was started with; drop "
                           f"{args.edition} (an edition file starts a new run)")
        cfg, seed = load_run(args.resume, cfg, args.explicit)
        lock(args.resume)             # before any check: no other process may change it now
        problem = check_config(cfg)   # the run's own config with the command line's changes
        if problem:                   # e.g. --lstm_impl=fast for a run of another cell
            raise RunError(f"{args.resume} can't be resumed so: {problem}")
        step = latest_step(args.resume)
        if step > cfg.training_steps:
            raise RunError(f"{args.resume} has trained {step} steps already; resume it with "
                           f"--training_steps above {step}, or without --training_steps")
        if step == cfg.training_steps and run_status(args.resume).full_accuracy:
            raise AlreadyFinished(f"{args.resume} is finished ({step} of {cfg.training_steps} "
                                  f"steps); nothing changed. To train it longer: --resume "
                                  f"{args.resume} --training_steps=N, N > {step}")
        return cfg, seed
    return cfg, cfg.seed if cfg.seed is not None else secrets.randbelow(2**31)


@contextlib.contextmanager
def open_run(cfg, seed, args):
    """Create (or reopen, with --resume) the run folder and yield its Run; without runs_dir, a
    Run that only prints. Prints the seed line first; Ctrl-C ends with how to resume, exit 130."""
    run_dir, step = args.resume, None
    if args.resume:   # nothing of the run changes until the checkpoint is loaded
        for name in clean_up(run_dir):
            note(f"removed {name}: left half-written by a process that was killed")
        step, skipped = readable_checkpoint(run_dir)
        for path, why in skipped:
            note(f"skipping {path}: unreadable ({why})")
        note(f"resuming {run_dir} from step {step}" if step else
             f"{run_dir} has no readable checkpoint: starting it again from step 1" if skipped
             else f"{run_dir} stopped before its first checkpoint: starting it again from "
                  "step 1")
    else:
        header = tutorial_log.seed_line(seed, repeat_command(cfg, seed,
                                                            getattr(args, "edition", None)))
        if cfg.runs_dir:   # runs_dir="" trains without a run folder
            run_dir = new_run_dir(cfg, args.run_name)
            lock(run_dir)
            try:
                write_config(run_dir, cfg, seed, getattr(args, "edition", None))
                atomic.write_text(os.path.join(run_dir, "log.txt"), header + "\n")
            except OSError as e:
                raise RunError(f"cannot write the run folder {run_dir} ({e.strerror}); free "
                               "space or set --runs_dir to a writable folder") from None
            note(f"run folder: {run_dir}")
        print(header, flush=True)
    try:
        yield RunFolder(cfg, run_dir, seed, step) if run_dir else Run(cfg)
    except KeyboardInterrupt as e:
        if run_dir:
            saved = f"checkpoint saved at step {e.args[0]}; " if e.args else ""
            note(f"interrupted: {saved}resume with: python train_rnn.py --resume {run_dir}")
        else:
            note("interrupted (no run folder: nothing to resume)")
        sys.exit(130)
    finally:
        unlock(run_dir or "")   # the run is over: another process may take it now
    if run_dir:
        note(f"run folder: {run_dir} (tensorboard --logdir {os.path.dirname(run_dir) or '.'})")


def new_run_dir(cfg, run_name):
    """Create runs/<run_name or timestamp>; the timestamp gets -2, -3 ... when taken."""
    name = run_name or time.strftime("%Y%m%d-%H%M%S")
    path = os.path.join(cfg.runs_dir, name)
    for k in itertools.count(2):
        try:
            os.makedirs(path)
            return path
        except FileExistsError:
            if run_name:
                raise RunError(f"run folder {path} exists; resume it with --resume {path}, "
                               "or choose another --run_name") from None
            path = os.path.join(cfg.runs_dir, f"{name}-{k}")
        except OSError as e:
            raise RunError(f"cannot create run folder {path} ({e.strerror}); "
                           "set --runs_dir to a writable folder") from None


def load_run(run_dir, cfg, explicit):
    """The config and seed of the run in `run_dir`, with the command line's changes (the keys in
    `explicit`, their values in `cfg`) checked and applied."""
    try:
        with open(os.path.join(run_dir, "config.json")) as f:
            saved = json.load(f)
        saved_cfg, seed = saved["config"], saved["seed"]
        if not isinstance(saved_cfg, dict) or isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError
    except FileNotFoundError:
        raise RunError(f"{run_dir} is not a run folder (no config.json); give the folder "
                       "that train_rnn.py printed") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise RunError(f"{run_dir}/config.json is unreadable; start a new run") from None
    missing = [key for key in RECORDED if key not in saved_cfg]
    if missing:   # then config.py's values would stand in for the run's own: never guess
        raise RunError(f"{run_dir}/config.json does not say the run's {', '.join(missing)}, so "
                       "it does not describe its checkpoints; nothing was changed: restore it, "
                       "or start a new run")
    for key in explicit - RESUMABLE:
        if getattr(cfg, key) != saved_cfg.get(key):
            raise RunError(f"{run_dir} was trained with {key}={saved_cfg.get(key)}, not "
                           f"{getattr(cfg, key)}; drop --{key} to resume it, or start a new run")
    # a key older runs did not record had its published value then, whatever config.py says now
    merged = dict(published.PUBLISHED, **saved_cfg)
    for key, value in merged.items():   # e.g. training_steps 5.0, from a run before the checks
        if key in published.PUBLISHED and not mistakes.fits(key, value):
            kind = published.kind_of(key)
            raise RunError(f"{run_dir}/config.json has {key}={value!r}, not "
                           f"{'an integer' if kind is int else 'a ' + kind.__name__}; this run "
                           "can't be resumed, start a new one")
    merged.update({k: getattr(cfg, k) for k in explicit & RESUMABLE})
    return types.SimpleNamespace(**merged), seed


_locks = {}   # run folder -> the open folder this process holds locked


def lock(run_dir):
    """Hold `run_dir` for this process until unlock() or its end (flock on the folder itself:
    the kernel releases it when the process ends, killed or not, and the folder gains no file).
    RunError if another process holds it."""
    if os.path.realpath(run_dir) in _locks:
        return
    fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = lock_holder(run_dir)
        who, kill = (f"process {holder}", f"kill -INT {holder}") if holder else (
            "another process", "Ctrl-C there")
        raise RunError(f"{run_dir} is in use by {who} (training or resuming it); wait for it "
                       f"to end, or stop it ({kill}: it saves a checkpoint)") from None
    _locks[os.path.realpath(run_dir)] = fd


def unlock(run_dir):
    fd = _locks.pop(os.path.realpath(run_dir), None)
    if fd is not None:
        os.close(fd)   # closing the folder releases its flock


def lock_holder(run_dir):
    """The process id that holds a flock on `run_dir`, from /proc/locks; None if unknown."""
    inode = os.stat(run_dir).st_ino
    with contextlib.suppress(OSError):
        with open("/proc/locks") as f:
            for line in f:
                fields = line.split()
                if "FLOCK" in fields and len(fields) > 5 and fields[5].endswith(f":{inode}"):
                    return int(fields[4])
    return None


def checkpoint_steps(run_dir):
    """The steps of the checkpoints on disk, newest first. The files are the truth: TensorFlow
    writes ckpt-N.index last, so it marks a whole checkpoint; the 'checkpoint' file that indexes
    them is only a hint (deleted, emptied or garbled, the checkpoints are still there)."""
    steps = []
    with contextlib.suppress(OSError):
        for name in os.listdir(run_dir):
            if m := re.fullmatch(r"ckpt-(\d+)\.index", name):
                steps.append(int(m[1]))
    return sorted(steps, reverse=True)


def readable_checkpoint(run_dir):
    """The newest checkpoint of `run_dir` that reads back whole (each variable's data checked
    against its checksum), and those skipped: (step or 0, [(path, why), ...])."""
    skipped = []
    for step in checkpoint_steps(run_dir):
        path = os.path.join(run_dir, f"ckpt-{step}")
        try:
            reader = tf1.train.load_checkpoint(path)
            for name in reader.get_variable_to_shape_map():
                reader.get_tensor(name)
            return step, skipped
        except Exception as e:   # OpError, or IndexError for a short data file: unreadable
            skipped.append((path, str(e).strip().splitlines()[0][:160]))
    return 0, skipped


def latest_step(run_dir):
    """The step of the newest checkpoint in `run_dir`; 0 when it has none yet."""
    steps = checkpoint_steps(run_dir)
    return steps[0] if steps else 0


def clean_up(run_dir):
    """Remove what a killed process left half-written in `run_dir` (held locked by this one, so
    no live process is writing there): atomic.py's temporaries and TensorFlow's unfinished
    checkpoint writes (ckpt-N_temp/ folders, *.tempstate* files). Returns the names removed."""
    removed = []
    for name in sorted(os.listdir(run_dir)):
        path = os.path.join(run_dir, name)
        if not (name.startswith(atomic.PREFIX) or "tempstate" in name
                or re.fullmatch(r"ckpt-\d+_temp.*", name)):
            continue
        with contextlib.suppress(OSError):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            removed.append(name)
    return removed


def write_config(run_dir, cfg, seed, edition=KEEP):
    """config.json: the run's config, seed, edition file (or null) and repeat command. A resumed
    run keeps the edition it was started with."""
    path = os.path.join(run_dir, "config.json")
    if edition is KEEP:
        edition = saved_edition(run_dir)
    atomic.write_text(path, json.dumps(
        {"config": dict(vars(cfg), seed=seed), "seed": seed,
         "edition": edition and settings.edition_name(edition), "edition_file": edition,
         "command": repeat_command(cfg, seed, edition)}, indent=1) + "\n")


def saved_edition(run_dir):
    """The edition file a run folder's config.json records, or None."""
    try:
        with open(os.path.join(run_dir, "config.json")) as f:
            edition = json.load(f).get("edition_file")
        return edition if isinstance(edition, str) else None
    except (OSError, ValueError, AttributeError):
        return None


def log_text(run_dir):
    """The run's log.txt ("" before it has one); RunError when it is no readable file. A byte
    that is not UTF-8 (a damaged disk, an editor) reads as U+FFFD, the rest as it is."""
    path = os.path.join(run_dir, "log.txt")
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    except OSError as e:
        raise RunError(f"{path} is unreadable ({e.strerror}); restore it, or start a new "
                       "run") from None


def truncate_log(run_dir, step, batch_size):
    """Keep the run's log up to `step`: the lines that the resumed run will not print again."""
    text = log_text(run_dir)
    atomic.write_text(os.path.join(run_dir, "log.txt"),
                      tutorial_log.through(text, step, batch_size))


def run_status(run_dir):
    """What a run folder says of itself: the step of its newest checkpoint, its training_steps,
    its accuracy on all test images as its log recorded it (None until training finished), and
    how it diverged (or None)."""
    cfg, _ = load_run(run_dir, cfg=None, explicit=set())
    full, diverged = tutorial_log.outcome(log_text(run_dir))
    return RunStatus(latest_step(run_dir), cfg.training_steps, full, diverged, cfg)


@dataclasses.dataclass(frozen=True)
class RunStatus:
    step: int                   # of its newest checkpoint; 0: none yet
    training_steps: int
    full_accuracy: tuple | None   # (test images, accuracy on all of them), once it finished
    diverged: str | None        # how it diverged, or None
    cfg: types.SimpleNamespace  # its config
