"""Classify new digits with a trained run: the tutorial's last step.

    python predict.py my_digit.png                   # the newest finished run
    python predict.py a.png b.jpg --run runs/NAME    # a given run
    python predict.py --test_index 0 1 2             # MNIST test images, with their labels
    python predict.py my_digit.png --save_input seen.png   # also save what the network saw
    python predict.py my_digit.png --reading read.png      # how the LSTM read it, row by row

Any PNG or JPEG works: any size, colour or grey, dark digit on light paper or light on dark,
a photo with its EXIF orientation. Each is turned into an MNIST-like input the way MNIST itself
was made: the paper (its level estimated from the border, a gradient of light included) becomes
0 and the ink 1, then the digit is cropped to its bounding box, scaled to fit 20x20 keeping its
aspect ratio, and placed in 28x28 with its centre of mass at the centre. A 28x28 light-on-dark
image is taken as already MNIST-like and used as it is.

How the LSTM read it (--reading, and the same figure in serve.py's page and the notebook): the
output layer applied after each of the 28 rows, softmaxed: what the model believes the digit is,
having read rows 1..t.
"""
import argparse
import io
import json
import os
import sys

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError


import data
from configurator import config_defaults
import runs
import train_rnn  # build_graph: the one model definition
from tf1 import tf1

MNIST_BOX = 20        # MNIST digits fit a 20x20 box ...
MNIST_SIZE = 28       # ... inside 28x28, their centre of mass at the centre
MNIST_CENTRE = 14.0   # measured on MNIST itself: mean centre of mass (row, col) is (14.0, 14.0)
INK = 0.15            # below this share of the strokes' level a pixel counts as paper
STROKE = 0.5         # the digit's bounding box holds the pixels above this (0..1)
MIN_CONTRAST = 0.08   # strokes must differ from the paper by this much (0..1) to be a digit
MAX_PIXELS = 50_000_000   # larger images are refused (a 12-megapixel phone photo is 12_000_000)
WORKING_SIZE = 1024       # larger images are shrunk to this many pixels (longest side) first:
                          # the digit ends up 20x20, and the paper's fit needs no more
HERE = os.path.dirname(os.path.abspath(__file__))

Image.MAX_IMAGE_PIXELS = None   # the size is checked here, from the header, before decoding


class PredictError(Exception):
    pass


def paper_and_ink(grey):
    """(H, W) grey in [0, 1] -> ink in [0, 1]: paper 0, the strokes' typical level 1.

    The paper is a plane fitted to the border pixels, so an even colour or lighting that changes
    across the page both become 0; the ink is whichever side of the paper the strokes lie on
    (dark on light or light on dark); a small median filter takes out pixel noise first.
    """
    h, w = grey.shape
    ys, xs = np.mgrid[:h, :w]
    edge = np.zeros((h, w), bool)
    k = max(1, min(h, w) // 40)                 # a border a few pixels wide
    edge[:k], edge[-k:], edge[:, :k], edge[:, -k:] = True, True, True, True
    basis = np.stack([np.ones(h * w), ys.ravel() / h, xs.ravel() / w], 1)
    coef, *_ = np.linalg.lstsq(basis[edge.ravel()], grey[edge], rcond=None)
    diff = grey - (basis @ coef).reshape(h, w)
    size = 5 if min(h, w) >= 112 else 3      # digits drawn large: strokes many pixels wide
    diff = np.asarray(Image.fromarray(diff.astype(np.float32)).filter(
        ImageFilter.MedianFilter(size)))
    ink = -diff if -diff.min() > diff.max() else diff      # dark strokes: below the paper
    strokes = ink > 0.5 * ink.max()
    level = np.median(ink[strokes]) if ink.max() > 0 else 0.0
    if level < MIN_CONTRAST:
        raise PredictError("no digit found: the image is blank")
    # the paper's own grain (below INK of the strokes' level) counts as paper
    return np.clip((ink / level - INK) / (1 - INK), 0, 1)


def mnist_like(image):
    """A PIL image -> (28, 28) float32 in [0, 1], digit light on dark, as MNIST.

    Raises:
        PredictError: the image holds no digit (nothing but background).
    """
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # strokes drawn on a transparent canvas: put them on white paper first
        paper = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(paper, image.convert("RGBA"))
    grey = np.asarray(ImageOps.grayscale(image), dtype=np.float32) / 255
    border = np.concatenate((grey[0], grey[-1], grey[:, 0], grey[:, -1]))
    if grey.shape == (MNIST_SIZE, MNIST_SIZE) and np.median(border) < 0.5:
        return grey                             # already MNIST-like: light on dark, 28x28
    ink = paper_and_ink(grey)
    # the digit's box: where the strokes are (a stray speck of noise must not widen it)
    strokes = ink > STROKE
    rows, cols = np.nonzero(strokes.any(1))[0], np.nonzero(strokes.any(0))[0]
    digit = Image.fromarray(ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
    scale = MNIST_BOX / max(digit.size)
    size = (max(1, round(digit.width * scale)), max(1, round(digit.height * scale)))
    digit = np.clip(np.asarray(digit.resize(size, Image.LANCZOS), dtype=np.float32), 0, 1)

    # translate so that the centre of mass lands on MNIST's centre, keeping the digit inside
    ys, xs = np.mgrid[:digit.shape[0], :digit.shape[1]]
    mass = digit.sum()
    top = int(round(MNIST_CENTRE - (ys * digit).sum() / mass))
    left = int(round(MNIST_CENTRE - (xs * digit).sum() / mass))
    top = min(max(top, 0), MNIST_SIZE - digit.shape[0])
    left = min(max(left, 0), MNIST_SIZE - digit.shape[1])
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    out[top:top + digit.shape[0], left:left + digit.shape[1]] = digit
    return out


def load_image(path, name=None):
    """An image file (a path, or a binary file object named `name` in messages) -> its (28, 28)
    MNIST-like input (mnist_like). A large photo is decoded at a reduced size where the format
    allows (JPEG's draft mode) and shrunk to WORKING_SIZE, so a 12-megapixel photo takes little
    time and memory.

    Raises:
        PredictError: no such file, not an image, larger than MAX_PIXELS, or no digit in it.
    """
    name = name or path
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise PredictError(f"{image.width}x{image.height} pixels is more than this "
                                   f"takes ({MAX_PIXELS // 10**6} megapixels); shrink it first "
                                   f"(a digit needs no more than {WORKING_SIZE}x{WORKING_SIZE})")
            image.draft("L", (WORKING_SIZE, WORKING_SIZE))   # JPEG: decode at 1/2 .. 1/8 scale
            image.load()
            # a phone photo may be stored sideways with an EXIF orientation tag: apply it first
            image = ImageOps.exif_transpose(image)
            image.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.LANCZOS)
            return mnist_like(image)
    except FileNotFoundError:
        raise PredictError(f"{name}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        # (a truncated file raises OSError, a corrupt PNG chunk SyntaxError)
        raise PredictError(f"{name}: cannot read it as an image ({e.__class__.__name__}); "
                           "give a PNG or JPEG file") from None
    except PredictError as e:
        raise PredictError(f"{name}: {e}") from None


def unusable(status):
    """Why a run can't serve as the default model, or None when it finished training."""
    if status.diverged:
        return f"it diverged ({status.diverged.split(';')[0]})"
    if status.step < status.training_steps or status.full_accuracy is None:
        return f"unfinished (step {status.step} of {status.training_steps})"
    return None


def find_runs_dir(runs_dir):
    """`runs_dir` as given when it exists here, else the project's own (runs/ beside this file),
    so that predict.py finds the runs from any folder."""
    if os.path.isdir(runs_dir) or os.path.isabs(runs_dir):
        return runs_dir
    beside = os.path.join(HERE, runs_dir)
    return beside if os.path.isdir(beside) else runs_dir


def tutorial_lowest_accuracy():
    """The lowest accuracy on all test images among the tutorial's band seeds, or None."""
    import bands
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
    runs_dir = config_defaults()["runs_dir"]
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


NO_ROW_BELIEFS = ("a bidirectional model has no belief after t rows: its output at every row "
                  "has read all 28 rows, from both ends")


def reading_figure(image, beliefs, title=None):
    """How the LSTM read one image: the (28, 28) input it saw beside its (28, 10) beliefs after
    each row, row t of the one level with row t of the other. The figure of predict.py
    --reading, serve.py's page and the notebook. `beliefs` None: a note instead (bidirectional).
    Returns a matplotlib Figure (not pyplot's: safe in a server's threads).
    """
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6.4, 3.9), dpi=100)
    # fixed places (a layout engine costs the page ~150 ms a figure): the two panels the same
    # height, so that their rows line up
    seen = fig.add_axes((0.10, 0.12, 0.43, 0.73))
    strip = fig.add_axes((0.58, 0.12, 0.25, 0.73), sharey=seen)
    rows = np.arange(image.shape[0])
    seen.imshow(image, cmap="gray", vmin=0, vmax=1, aspect="auto",
                extent=(-0.5, 27.5, rows[-1] + 0.5, -0.5))
    seen.set_title("the 28x28 input it saw", fontsize=10)
    seen.set_xticks([])
    seen.set_yticks([0, 6, 13, 20, 27], ["row 1", "7", "14", "21", "28"])
    if beliefs is None:
        strip.axis("off")
        strip.text(0, 0.5, NO_ROW_BELIEFS.replace(": ", ":\n").replace("every row ",
                   "every row\n"), fontsize=9, va="center", transform=strip.transAxes)
    else:
        shown = strip.imshow(beliefs, cmap="Blues", vmin=0, vmax=1, aspect="auto",
                             extent=(-0.5, beliefs.shape[1] - 0.5, rows[-1] + 0.5, -0.5))
        strip.scatter(beliefs.argmax(1), rows, s=6, c="tab:orange")   # the most believed
        strip.set_xticks(range(beliefs.shape[1]))
        strip.set_xlabel("digit")
        strip.set_title("belief after rows 1..t", fontsize=10)
        strip.tick_params(labelleft=False)
        fig.colorbar(shown, cax=fig.add_axes((0.86, 0.18, 0.02, 0.6)), label="probability")
    if title:
        fig.suptitle(title, fontsize=11, y=0.97)
    return fig


def figure_png(fig):
    """A matplotlib Figure -> PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def write_atomically(path, content):
    """Write bytes to `path` through a temporary file beside it, then rename."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(content)
    os.replace(tmp, path)


def numbered(path, i, count):
    """The i-th of `count` output files for one --save_input/--reading PATH."""
    stem, ext = os.path.splitext(path)
    return path if count == 1 else f"{stem}-{i}{ext or '.png'}"


def save_input(path, image):
    """Write a (28, 28) input in [0, 1] as a grey PNG, atomically."""
    write_atomically(path, input_png(image))


def input_png(image):
    """A (28, 28) input in [0, 1] -> grey PNG bytes (what --save_input writes, the page shows)."""
    png = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8), mode="L").save(png, format="PNG")
    return png.getvalue()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="predict.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="*", help="PNG or JPEG files of handwritten digits")
    add_run_arguments(parser)
    parser.add_argument("--test_index", type=int, nargs="+", metavar="N",
                        help="predict these MNIST test images and show their true labels")
    parser.add_argument("--save_input", metavar="PNG", help="write the 28x28 input the network "
                        "saw (several inputs: PNG gets -0, -1, ... before its extension)")
    parser.add_argument("--reading", metavar="PNG", help="write how the LSTM read it: its "
                        "belief after each of the 28 rows beside the input (named as --save_input)")
    args = parser.parse_args(argv)
    if not args.images and not args.test_index:
        parser.error("give image files, or --test_index N")
    failed = []   # (image, why): reported, while the others are still predicted
    try:
        for option, path in (("--save_input", args.save_input), ("--reading", args.reading)):
            if path:   # before any work: where the outputs go must take them
                folder = os.path.dirname(os.path.abspath(path))
                if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
                    raise PredictError(f"{option} {path}: its folder does not exist or is not "
                                       "writable")
        run_dir = choose_run(args.run, args.runs_dir)
        inputs, names, labels = [], [], []
        for path in args.images:
            try:
                inputs.append(load_image(path))
            except PredictError as e:
                failed.append(str(e))
                print(f"predict.py: error: {e}", file=sys.stderr)
                continue
            names.append(path)
            labels.append(None)
        if not inputs and not args.test_index:
            sys.exit(1)
        model = Model(run_dir)
        if args.test_index:
            test = data.read_data_sets(model.cfg.data_dir, validation_size=0).test
            for n in args.test_index:
                if not 0 <= n < test.num_examples:
                    raise PredictError(f"--test_index {n} is out of range "
                                       f"0..{test.num_examples - 1}")
                inputs.append(test.images[n].reshape(MNIST_SIZE, MNIST_SIZE))
                names.append(f"test[{n}]")
                labels.append(int(test.labels[n].argmax()))
    except (PredictError, data.DataError) as e:
        parser.exit(1, f"predict.py: error: {e}\n")

    probs, beliefs = model.reading(np.stack(inputs))
    print(describe_run(run_dir, model.status))
    for name, p, label in zip(names, probs, labels):
        true = "" if label is None else f"  true {label}"
        print(f"{name}: {describe(p)}{true}")
    for i, image in enumerate(inputs):
        if args.save_input:
            save_input(numbered(args.save_input, i, len(inputs)), image)
        if args.reading:
            title = f"{names[i]}: {probs[i].argmax()} ({probs[i].max():.2f})"
            fig = reading_figure(image, None if beliefs is None else beliefs[i], title)
            write_atomically(numbered(args.reading, i, len(inputs)), figure_png(fig))
    if failed:
        print(f"# {len(failed)} of {len(args.images)} image(s) could not be read (above)",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("predict.py: interrupted", file=sys.stderr)
        sys.exit(130)
