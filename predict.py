"""Classify new digits with a trained run: the tutorial's last step.

    python predict.py my_digit.png                   # newest checkpoint of the newest run
    python predict.py a.png b.jpg --run runs/NAME    # a given run
    python predict.py --test_index 0 1 2             # MNIST test images, with their labels
    python predict.py my_digit.png --save_input seen.png   # also save what the network saw

Any PNG or JPEG works: any size, colour or grey, dark digit on light paper or light on dark.
Each is turned into an MNIST-like input the way MNIST itself was made: grey, digit light on dark,
cropped to its bounding box, scaled to fit 20x20 keeping its aspect ratio, and placed in 28x28
with its centre of mass at the centre. A 28x28 light-on-dark image is taken as already MNIST-like
and used as it is.
"""
import argparse
import os

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

import config
import data
import runs
import train_rnn  # build_graph: the one model definition
from tf1 import tf1

MNIST_BOX = 20        # MNIST digits fit a 20x20 box ...
MNIST_SIZE = 28       # ... inside 28x28, their centre of mass at the centre
MNIST_CENTRE = 14.0   # measured on MNIST itself: mean centre of mass (row, col) is (14.0, 14.0)
INK = 0.1             # pixels below this (0..1, after inversion) don't count as the digit


class PredictError(Exception):
    pass


def mnist_like(image):
    """A PIL image -> (28, 28) float32 in [0, 1], digit light on dark, as MNIST.

    Raises:
        PredictError: the image holds no digit (nothing but background).
    """
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # strokes drawn on a transparent canvas: put them on white paper first
        paper = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(paper, image.convert("RGBA"))
    grey = np.asarray(ImageOps.grayscale(image), dtype=np.uint8)
    border = np.concatenate((grey[0], grey[-1], grey[:, 0], grey[:, -1]))
    light_on_dark = np.median(border) < 128
    if grey.shape == (MNIST_SIZE, MNIST_SIZE) and light_on_dark:
        return grey.astype(np.float32) * np.float32(1.0 / 255.0)   # already MNIST-like
    if not light_on_dark:
        grey = 255 - grey
    ink = grey.astype(np.float32) / 255 >= INK
    if not ink.any():
        raise PredictError("no digit found: the image is blank")
    rows, cols = np.nonzero(ink.any(1))[0], np.nonzero(ink.any(0))[0]
    digit = Image.fromarray(grey[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
    scale = MNIST_BOX / max(digit.size)
    size = (max(1, round(digit.width * scale)), max(1, round(digit.height * scale)))
    digit = np.asarray(digit.resize(size, Image.LANCZOS), dtype=np.float32) / 255
    digit = np.clip(digit, 0, 1)

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


def load_image(path):
    try:
        with Image.open(path) as image:
            image.load()
            return mnist_like(image)
    except FileNotFoundError:
        raise PredictError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise PredictError(f"{path}: cannot read it as an image ({e.__class__.__name__}); "
                           "give a PNG or JPEG file") from None
    except PredictError as e:
        raise PredictError(f"{path}: {e}") from None


def newest_run(runs_dir):
    """The most recently written run folder of `runs_dir` that has a checkpoint."""
    candidates = []
    if os.path.isdir(runs_dir):
        for name in os.listdir(runs_dir):
            path = os.path.join(runs_dir, name)
            if os.path.exists(os.path.join(path, "checkpoint")):
                candidates.append((os.path.getmtime(os.path.join(path, "checkpoint")), path))
    if not candidates:
        raise PredictError(f"no trained run in {runs_dir}/; train one with python train_rnn.py, "
                           "or give --run runs/NAME")
    return max(candidates)[1]


class Model:
    """A run's newest checkpoint, loaded into the graph that build_graph makes."""

    def __init__(self, run_dir):
        try:
            self.cfg, _ = runs.load_run(run_dir, cfg=None, explicit=set())
            self.checkpoint = os.path.join(run_dir, f"ckpt-{runs.latest_step(run_dir)}")
        except runs.RunError as e:
            raise PredictError(str(e)) from None
        graph = tf1.Graph()
        with graph.as_default():
            self.g = train_rnn.build_graph(self.cfg, seed=0)
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


def describe(probs):
    top = np.argsort(probs)[::-1][:3]
    return f"{top[0]}  (" + ", ".join(f"{d}: {probs[d]:.3f}" for d in top) + ")"


def save_input(path, image):
    """Write a (28, 28) input in [0, 1] as a grey PNG, atomically."""
    tmp = f"{path}.tmp-{os.getpid()}"
    Image.fromarray(np.round(image * 255).astype(np.uint8), mode="L").save(tmp, format="PNG")
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="predict.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="*", help="PNG or JPEG files of handwritten digits")
    parser.add_argument("--run", help="run folder (default: the newest under runs/)")
    parser.add_argument("--test_index", type=int, nargs="+", metavar="N",
                        help="predict these MNIST test images and show their true labels")
    parser.add_argument("--save_input", metavar="PNG", help="write the 28x28 input the network "
                        "saw (several inputs: PNG gets -0, -1, ... before its extension)")
    args = parser.parse_args(argv)
    if not args.images and not args.test_index:
        parser.error("give image files, or --test_index N")
    try:
        run_dir = args.run or newest_run(config.runs_dir)
        if not os.path.isdir(run_dir):
            raise PredictError(f"run folder {run_dir} does not exist; see the folders in runs/")
        inputs, names, labels = [], [], []
        for path in args.images:
            inputs.append(load_image(path))
            names.append(path)
            labels.append(None)
        model = Model(run_dir)
        if args.test_index:
            test = data.read_data_sets(model.cfg.data_dir, validation_size=0).test
            for n in args.test_index:
                if not 0 <= n < test.num_examples:
                    raise PredictError(f"--test_index {n} is out of range 0..{test.num_examples - 1}")
                inputs.append(test.images[n].reshape(MNIST_SIZE, MNIST_SIZE))
                names.append(f"test[{n}]")
                labels.append(int(test.labels[n].argmax()))
        if args.save_input and not os.path.isdir(os.path.dirname(os.path.abspath(args.save_input))):
            raise PredictError(f"--save_input {args.save_input}: its folder does not exist")
    except (PredictError, data.DataError) as e:
        parser.exit(1, f"predict.py: error: {e}\n")

    probs = model.probabilities(np.stack(inputs))
    print(f"# {model.checkpoint}")
    for name, p, label in zip(names, probs, labels):
        true = "" if label is None else f"  true {label}"
        print(f"{name}: {describe(p)}{true}")
    if args.save_input:
        stem, ext = os.path.splitext(args.save_input)
        for i, image in enumerate(inputs):
            save_input(args.save_input if len(inputs) == 1 else f"{stem}-{i}{ext or '.png'}", image)


if __name__ == "__main__":
    main()
