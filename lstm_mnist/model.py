"""A trained run, loaded to classify images: which run (the newest finished one, unless given),
its checkpoint in the tutorial's graph (train_rnn.build_graph), its probabilities and its
belief after each row. predict.py, serve.py and the notebook use it.
"""
import json
import os
import sys

import numpy as np

import train_rnn  # build_graph: the one model definition
from lstm_mnist import ROOT, bands, cli, runs
from lstm_mnist.tf1 import tf1


class PredictError(Exception):
    """No run to predict with, or a run that can't be loaded; the message says what to do."""


def unusable(status):
    """Why a run can't serve as the default model, or None when it finished training."""
    if status.diverged:
        return f"it diverged ({status.diverged.split(';')[0]})"
    if status.step < status.training_steps or status.full_accuracy is None:
        return f"unfinished (step {status.step} of {status.training_steps})"
    return None


def find_runs_dir(runs_dir):
    """`runs_dir` as given when it exists here, else the project's own (runs/ beside
    train_rnn.py), so that predict.py finds the runs from any folder."""
    if os.path.isdir(runs_dir) or os.path.isabs(runs_dir):
        return runs_dir
    beside = os.path.join(ROOT, runs_dir)
    return beside if os.path.isdir(beside) else runs_dir


def tutorial_lowest_accuracy():
    """The lowest accuracy on all test images among the tutorial's band seeds, or None."""
    try:
        with open(bands.REFERENCE_BAND) as f:
            return json.load(f)["test_accuracy_full"]["min"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def better_run(chosen, runs_dir):
    """A finished run of `runs_dir` to suggest instead of `chosen` when the chosen one ends
    below every seed of the tutorial's band (a short experiment, say): (folder, accuracy) of the
    most accurate such run, or None."""
    floor = tutorial_lowest_accuracy()
    status = runs.run_status(chosen)
    if floor is None or status.full_accuracy is None or status.full_accuracy[1] >= floor:
        return None
    best = None
    for name in os.listdir(runs_dir):
        path = os.path.join(runs_dir, name)
        try:
            other = runs.run_status(path)
        except runs.RunError:
            continue
        if unusable(other) is None and other.full_accuracy[1] > status.full_accuracy[1] and (
                best is None or other.full_accuracy[1] > best[1]):
            best = (path, other.full_accuracy[1])
    return best


def newest_finished_run(runs_dir):
    """The most recently written run of `runs_dir` that finished training without diverging.

    Returns:
        (run folder, [(newer run folder, why it was skipped), ...])
    """
    candidates = []
    if os.path.isdir(runs_dir):
        for name in os.listdir(runs_dir):
            log = os.path.join(runs_dir, name, "log.txt")
            if os.path.exists(os.path.join(runs_dir, name, "config.json")) and os.path.exists(log):
                candidates.append((os.path.getmtime(log), os.path.join(runs_dir, name)))
    skipped = []
    for _, path in sorted(candidates, reverse=True):
        try:
            why = unusable(runs.run_status(path))
        except runs.RunError as e:
            why = str(e).split(";")[0]
        if why is None:
            return path, skipped
        skipped.append((path, why))
    if not skipped:
        raise PredictError(f"no trained run in {runs_dir}/; train one with python train_rnn.py, "
                           "or give --run runs/NAME")
    raise PredictError(f"no run in {runs_dir}/ finished training without diverging (newest: "
                       f"{skipped[0][0]}, {skipped[0][1]}); train one with python train_rnn.py, "
                       "or give --run runs/NAME")


def choose_run(run_dir, runs_dir):
    """The run to use: `run_dir` when given, else the newest finished one under `runs_dir`
    (notes on stderr name the runs skipped, and a better one if this one is poor).

    Raises:
        PredictError: no such run folder, or no finished run.
    """
    if not run_dir:
        runs_dir = find_runs_dir(runs_dir)
        run_dir, skipped = newest_finished_run(runs_dir)
        for path, why in skipped:
            print(f"# skipped {path}: {why}", file=sys.stderr)
        if better := better_run(run_dir, runs_dir):
            print(f"# {run_dir} ends below every seed of the tutorial; a better run is "
                  f"{better[0]} (accuracy {better[1]:.4f}): --run {better[0]}", file=sys.stderr)
    if not os.path.isdir(run_dir):
        raise PredictError(f"run folder {run_dir} does not exist; see the folders in runs/")
    return run_dir


def add_run_arguments(parser):
    """--run and --runs_dir: which trained run predicts (predict.py and serve.py)."""
    parser.add_argument("--run", help="run folder (default: the newest under --runs_dir that "
                        "finished training without diverging)")
    runs_dir = cli.defaults_or_exit()["runs_dir"]
    parser.add_argument("--runs_dir", default=runs_dir,
                        help=f"where to look for runs (default: {runs_dir}, here or beside "
                             "predict.py)")


def describe_run(run_dir, status):
    """One line: the run, its checkpoint's step out of its training steps, its accuracy."""
    line = f"# run {run_dir}: checkpoint at step {status.step} of {status.training_steps}"
    if status.full_accuracy:
        n, accuracy = status.full_accuracy
        return line + f"; accuracy on all {n} test images {accuracy:.4f} (from its log)"
    why = unusable(status)
    return line + f"; {why}: its accuracy was never measured, predictions may be poor"


class Model:
    """A run's newest checkpoint, loaded into the graph that build_graph makes (with the
    tutorial's cell whatever lstm_impl trained it: same variables, and it gives every row's
    output)."""

    def __init__(self, run_dir):
        try:
            self.status = runs.run_status(run_dir)
        except runs.RunError as e:
            raise PredictError(str(e)) from None
        if not self.status.step:
            raise PredictError(f"{run_dir} has no checkpoint yet; let it train to its first "
                               "checkpoint, or give another --run")
        self.cfg = self.status.cfg
        self.run_dir = run_dir
        self.checkpoint = os.path.join(run_dir, f"ckpt-{self.status.step}")
        graph = tf1.Graph()
        with graph.as_default():
            inference = dict(vars(self.cfg), lstm_impl="basic")
            self.g = train_rnn.build_graph(type(self.cfg)(**inference), seed=0)
            saver = tf1.train.Saver(tf1.trainable_variables())
        self.sess = tf1.Session(graph=graph)
        try:
            saver.restore(self.sess, self.checkpoint)
        except (tf1.errors.OpError, ValueError) as e:
            raise PredictError(f"checkpoint of {run_dir} can't be loaded "
                               f"({str(e).strip().splitlines()[0][:160]})") from None

    def probabilities(self, images):
        """(N, 28, 28) float32 inputs -> (N, 10) softmax probabilities."""
        x = images.reshape((-1, self.cfg.timesteps, self.cfg.num_input))
        return self.sess.run(self.g["prediction"], {self.g["X"]: x})

    def reading(self, images):
        """(N, 28, 28) inputs -> (N, 10) probabilities and (N, 28, 10) beliefs after each row,
        or None for the beliefs of a bidirectional model (build_graph's row_beliefs)."""
        if self.g["row_beliefs"] is None:
            return self.probabilities(images), None
        x = images.reshape((-1, self.cfg.timesteps, self.cfg.num_input))
        return self.sess.run([self.g["prediction"], self.g["row_beliefs"]], {self.g["X"]: x})


def describe(probs):
    top = np.argsort(probs)[::-1][:3]
    return f"{top[0]}  (" + ", ".join(f"{d}: {probs[d]:.3f}" for d in top) + ")"
