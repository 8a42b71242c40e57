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
import lstm_mnist  # noqa: F401  (first: a Ctrl-C while the rest loads is one line)
import argparse
import os
import sys

import numpy as np

import data
from lstm_mnist import atomic, images, model, reading
from lstm_mnist.images import ImageError
from lstm_mnist.model import PredictError


def numbered(path, i, count):
    """The i-th of `count` output files for one --save_input/--reading PATH."""
    stem, ext = os.path.splitext(path)
    return path if count == 1 else f"{stem}-{i}{ext or '.png'}"


def arguments():
    parser = argparse.ArgumentParser(prog="predict.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="*", help="PNG or JPEG files of handwritten digits")
    model.add_run_arguments(parser)
    parser.add_argument("--test_index", type=int, nargs="+", metavar="N",
                        help="predict these MNIST test images and show their true labels")
    parser.add_argument("--save_input", metavar="PNG", help="write the 28x28 input the network "
                        "saw (several inputs: PNG gets -0, -1, ... before its extension)")
    parser.add_argument("--reading", metavar="PNG", help="write how the LSTM read it: its "
                        "belief after each of the 28 rows beside the input (named as --save_input)")
    return parser


def main(argv=None):
    parser = arguments()
    args = parser.parse_args(argv)
    if not args.images and not args.test_index:
        parser.error("give image files, or --test_index N")
    try:
        for option, path in (("--save_input", args.save_input), ("--reading", args.reading)):
            if path:   # before any work: where the outputs go must take them
                try:
                    atomic.probe(path)
                except OSError as e:
                    raise PredictError(f"{option} {path}: cannot write there ({e.strerror}); "
                                       "give a new PNG file name in a writable folder") from None
        run_dir = model.choose_run(args.run, args.runs_dir)
        inputs, failed = read_images(args.images)   # a bad image is reported, the rest predicted
        if not inputs and not args.test_index:
            sys.exit(1)
        trained = model.Model(run_dir)
        if args.test_index:
            inputs += test_images(trained.cfg.data_dir, args.test_index)
    except (PredictError, data.DataError) as e:
        parser.exit(1, f"predict.py: error: {e}\n")

    probs, beliefs = trained.reading(np.stack([image for _, image, _ in inputs]))
    print(model.describe_run(run_dir, trained.status))
    for (name, image, label), p in zip(inputs, probs):
        print(f"{name}: {model.describe(p)}" + ("" if label is None else f"  true {label}"))
    for i, (name, image, _) in enumerate(inputs):
        try:
            if args.save_input:
                path = numbered(args.save_input, i, len(inputs))
                atomic.write_bytes(path, images.input_png(image))
            if args.reading:
                title = f"{name}: {probs[i].argmax()} ({probs[i].max():.2f})"
                fig = reading.reading_figure(image, None if beliefs is None else beliefs[i],
                                             title)
                path = numbered(args.reading, i, len(inputs))
                atomic.write_bytes(path, reading.figure_png(fig))
        except OSError as e:   # e.g. a numbered name that is a folder
            parser.exit(1, f"predict.py: error: cannot write {path} ({e.strerror}); give "
                           "another file name\n")
    if failed:
        print(f"# {failed} of {len(args.images)} image(s) could not be read (above)",
              file=sys.stderr)
        sys.exit(1)


def read_images(paths):
    """[(name, (28, 28) input, None)] of the image files that read, and how many did not (each
    reported on stderr)."""
    inputs, failed = [], 0
    for path in paths:
        try:
            inputs.append((path, images.load_image(path), None))
        except ImageError as e:
            failed += 1
            print(f"predict.py: error: {e}", file=sys.stderr)
    return inputs, failed


def test_images(data_dir, indices):
    """[(name, (28, 28) input, its true label)] of MNIST test images."""
    test = data.read_data_sets(data_dir, validation_size=0).test
    found = []
    for n in indices:
        if not 0 <= n < test.num_examples:
            raise PredictError(f"--test_index {n} is out of range 0..{test.num_examples - 1}")
        found.append((f"test[{n}]", test.images[n].reshape(images.MNIST_SIZE, images.MNIST_SIZE),
                      int(test.labels[n].argmax())))
    return found


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("predict.py: interrupted", file=sys.stderr)
        sys.exit(130)
