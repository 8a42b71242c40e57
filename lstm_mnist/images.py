"""A photo or drawing of a digit -> the 28x28 input MNIST would have made of it (predict.py,
serve.py's page). Any PNG or JPEG: any size, colour or grey, dark digit on light paper or light
on dark, a photo with its EXIF orientation. The paper (its level estimated from the border, a
gradient of light included) becomes 0 and the ink 1, then the digit is cropped to its bounding
box, scaled to fit 20x20 keeping its aspect ratio, and placed in 28x28 with its centre of mass
at the centre, as MNIST itself was made. A 28x28 light-on-dark image is taken as it is.
"""
import io
import os
import stat

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

MNIST_BOX = 20        # MNIST digits fit a 20x20 box ...
MNIST_SIZE = 28       # ... inside 28x28, their centre of mass at the centre
MNIST_CENTRE = 14.0   # measured on MNIST itself: mean centre of mass (row, col) is (14.0, 14.0)
INK = 0.15            # below this share of the strokes' level a pixel counts as paper
STROKE = 0.5         # the digit's bounding box holds the pixels above this (0..1)
MIN_CONTRAST = 0.08   # strokes must differ from the paper by this much (0..1) to be a digit
MAX_PIXELS = 50_000_000   # larger images are refused (a 12-megapixel phone photo is 12_000_000)
MAX_DECODED_MB = 100      # and larger decoded sizes (RGB: 35 megapixels, RGBA: 26)
MAX_ASPECT = 20           # and strips: a digit's picture is not 20 times longer than wide
WORKING_SIZE = 1024       # larger images are shrunk to this many pixels (longest side) first:
                          # the digit ends up 20x20, and the paper's fit needs no more

Image.MAX_IMAGE_PIXELS = None   # the size is checked here, from the header, before decoding


class ImageError(Exception):
    """An image that can't be read, is too large, or holds no digit; the message says which."""


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
        raise ImageError("no digit found: the image is blank")
    # the paper's own grain (below INK of the strokes' level) counts as paper
    return np.clip((ink / level - INK) / (1 - INK), 0, 1)


def greyscale(image):
    """(h, w) float32 in [0, 1] of any PIL image: 8-bit modes as they are; 16- and 32-bit
    integer ones (mode I;16, I) by the range their values use (255, 65535 or their largest);
    floating point (mode F) as 0..1 when it holds no more (a float TIFF of MNIST)."""
    if image.mode != "F" and not image.mode.startswith("I"):
        return np.asarray(ImageOps.grayscale(image), dtype=np.float32) / 255
    x = np.nan_to_num(np.asarray(image, dtype=np.float64))
    largest = x.max(initial=0)
    top = next(t for t in (1.0, 255.0, 65535.0, largest)
               if largest <= t and (t > 1 or image.mode == "F"))
    return np.clip(x / max(top, 1e-12), 0, 1).astype(np.float32)


def mnist_like(image):
    """A PIL image -> (28, 28) float32 in [0, 1], digit light on dark, as MNIST.

    Raises:
        ImageError: the image holds no digit (nothing but background).
    """
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # strokes drawn on a transparent canvas: put them on white paper first
        paper = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(paper, image.convert("RGBA"))
    grey = greyscale(image)
    border = np.concatenate((grey[0], grey[-1], grey[:, 0], grey[:, -1]))
    if grey.shape == (MNIST_SIZE, MNIST_SIZE) and np.median(border) < 0.5:
        if grey.max() <= STROKE:
            raise ImageError("no digit found: the image is blank")
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


def check_size(image):
    """ImageError, before decoding, for an image that would take too long or too much memory:
    more than MAX_PIXELS, more than MAX_DECODED_MB decoded (up to 4 bytes a pixel: RGBA, or
    one 32-bit band), or a strip far longer than wide (no picture of a digit is 1 x 50,000,000)."""
    w, h = image.size
    if w * h > MAX_PIXELS:
        raise ImageError(f"{w}x{h} pixels is more than this takes ({MAX_PIXELS // 10**6} "
                         f"megapixels); shrink it first (a digit needs no more than "
                         f"{WORKING_SIZE}x{WORKING_SIZE})")
    per_band = 4 if image.mode in ("I", "F") else 2 if image.mode.startswith("I;16") else 1
    decoded = w * h * len(image.getbands()) * per_band / 2**20
    if decoded > MAX_DECODED_MB:
        raise ImageError(f"{w}x{h} pixels in mode {image.mode} decode to {decoded:.0f} MB, more "
                         f"than this takes ({MAX_DECODED_MB} MB); shrink it first")
    if max(w, h) > MAX_ASPECT * max(min(w, h), 1):
        raise ImageError(f"{w}x{h} pixels is a strip, not a picture of a digit (sides more than "
                         f"{MAX_ASPECT}:1); crop it to the digit")


def load_image(path, name=None):
    """An image file (a path, or a binary file object named `name` in messages) -> its (28, 28)
    MNIST-like input (mnist_like). A large photo is decoded at a reduced size where the format
    allows (JPEG's draft mode) and shrunk to WORKING_SIZE, so a 12-megapixel photo takes little
    time and memory.

    Raises:
        ImageError: no such file, not an image, larger than MAX_PIXELS, or no digit in it.
    """
    name = name or path
    try:
        if isinstance(path, str) and not stat.S_ISREG(os.stat(path).st_mode):
            raise ImageError("not a regular file (a folder, FIFO or device); give an image file")
        with Image.open(path) as image:
            check_size(image)
            image.draft("L", (WORKING_SIZE, WORKING_SIZE))   # JPEG: decode at 1/2 .. 1/8 scale
            image.load()
            # a phone photo may be stored sideways with an EXIF orientation tag: apply it first
            image = ImageOps.exif_transpose(image)
            image.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.LANCZOS)
            return mnist_like(image)
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        # (a truncated file raises OSError, a corrupt PNG chunk SyntaxError)
        raise ImageError(f"{name}: cannot read it as an image ({e.__class__.__name__}); "
                           "give a PNG or JPEG file") from None
    except ImageError as e:
        raise ImageError(f"{name}: {e}") from None


def input_png(image):
    """A (28, 28) input in [0, 1] -> grey PNG bytes (what --save_input writes, the page shows)."""
    png = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8), mode="L").save(png, format="PNG")
    return png.getvalue()
