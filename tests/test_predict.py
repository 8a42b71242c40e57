"""predict.py: MNIST-like inputs from any image, and predictions equal to the graph's own."""
import json
import os
import re
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, train_run
from lstm_mnist import model as predicting
from lstm_mnist import images, reading


def run_predict(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "predict.py"), *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, mnist_dir):
    """A run trained for a few steps through the real command line."""
    return train_run(tmp_path_factory.mktemp("runs"), mnist_dir, "tiny", "--training_steps=300",
                     "--display_step=100", "--learning_rate=0.1", "--seed=2")


def graph_probabilities(run_dir, images):
    """The trained graph's softmax on raw arrays, without predict.py's image handling."""
    import train_rnn
    from lstm_mnist.tf1 import tf
    cfg = types.SimpleNamespace(**json.loads((run_dir / "config.json").read_text())["config"])
    with tf.Graph().as_default():
        g = train_rnn.build_graph(cfg, seed=123)
        saver = tf.compat.v1.train.Saver(tf.compat.v1.trainable_variables())
        with tf.compat.v1.Session() as sess:
            saver.restore(sess, tf.compat.v1.train.latest_checkpoint(str(run_dir)))
            return sess.run(g["prediction"], {g["X"]: images.reshape(-1, 28, 28)})


def test_png_predictions_equal_the_graphs(trained_run, mnist, tmp_path):
    images = mnist.test.images[:8]
    paths = []
    for i, x in enumerate(images):
        paths.append(str(tmp_path / f"digit{i}.png"))
        Image.fromarray(np.round(x.reshape(28, 28) * 255).astype(np.uint8)).save(paths[-1])
    r = run_predict(*paths, "--run", str(trained_run), "--test_index", "0", "1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    full = re.search(r"all 10000 test images: ([0-9.]+)", (trained_run / "log.txt").read_text())[1]
    assert lines[0] == (f"# run {trained_run}: checkpoint at step 300 of 300; accuracy on all "
                        f"10000 test images {full} (from its log)")
    probs = graph_probabilities(trained_run, images)
    for path, line, p in zip(paths, lines[1:], probs):
        top = np.argsort(p)[::-1][:3]
        assert line == f"{path}: {top[0]}  (" + ", ".join(f"{d}: {p[d]:.3f}" for d in top) + ")"
    # --test_index feeds the same arrays, and shows the true label
    for n, line in zip((0, 1), lines[-2:]):
        label = mnist.test.labels[n].argmax()
        assert line.startswith(f"test[{n}]: {probs[n].argmax()}  (") and line.endswith(f"true {label}")


def test_dark_on_white_at_another_size_gives_the_mnist_input(mnist, tmp_path):
    for i in range(10):
        x = mnist.test.images[i].reshape(28, 28)
        # the digit drawn dark on white, 4x larger, off-centre on a bigger colour page
        big = Image.fromarray(255 - np.round(x * 255).astype(np.uint8)).resize((112, 112),
                                                                                Image.BICUBIC)
        page = Image.new("RGB", (260, 180), "white")
        page.paste(big.convert("RGB"), (120, 10))
        page.save(tmp_path / "page.jpg", quality=95)
        made = images.load_image(str(tmp_path / "page.jpg"))
        assert made.shape == (28, 28) and made.dtype == np.float32
        assert np.abs(made - x).mean() < 0.06, i
        # centring by centre of mass places a resampled digit within one pixel of the original
        best = max(np.corrcoef(np.roll(made, shift, (0, 1)).ravel(), x.ravel())[0, 1]
                   for shift in [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0)])
        assert best > 0.9, i


def test_save_input_writes_what_the_network_saw(trained_run, tmp_path):
    page = Image.new("L", (64, 48), 255)
    page.paste(0, (20, 8, 30, 40))       # a dark bar: a "1"
    page.save(tmp_path / "one.png")
    r = run_predict(str(tmp_path / "one.png"), "--run", str(trained_run),
                    "--save_input", str(tmp_path / "seen.png"))
    assert r.returncode == 0, r.stderr
    seen = np.asarray(Image.open(tmp_path / "seen.png"))
    assert seen.shape == (28, 28) and seen.max() == 255 and seen[0].max() == 0
    rows = np.nonzero(seen.max(1))[0]
    assert rows[-1] - rows[0] + 1 == 20                  # scaled to fit the 20x20 box


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"not an image"), "cannot read it as an image"),
    (lambda p: Image.new("L", (40, 40), 255).save(p, format="PNG"), "no digit found"),
    (lambda p: None, "no such file"),
])
def test_bad_images_are_one_line(trained_run, tmp_path, make, message):
    path = tmp_path / "x.png"
    make(path)
    r = run_predict(str(path), "--run", str(trained_run))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("predict.py: error: ") and message in r.stderr
    assert r.stderr.count("\n") == 1


def test_missing_run_or_checkpoint(trained_run, tmp_path):
    r = run_predict("--test_index", "0", "--run", str(tmp_path / "nope"))
    assert r.returncode == 1 and "does not exist" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text((trained_run / "config.json").read_text())
    r = run_predict("--test_index", "0", "--run", str(empty))
    assert r.returncode == 1 and "has no checkpoint" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_default_run_is_the_newest_finished_one(trained_run, tmp_path, mnist_dir):
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(trained_run, runs / "finished")
    # newer: a run that diverged (a real one: its weights overflow; a checkpoint every step) ...
    r = subprocess.run([sys.executable, os.path.join(ROOT, "train_rnn.py"), f"--runs_dir={runs}",
                        f"--data_dir={mnist_dir}", "--run_name=diverged", "--seed=1",
                        "--learning_rate=1e38", "--checkpoint_every=1", "--training_steps=50",
                        "--num_hidden=16"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 1 and "loss became" in r.stderr
    # ... and one stopped at step 300 of 1000
    shutil.copytree(trained_run, runs / "unfinished")
    saved = json.loads((runs / "unfinished" / "config.json").read_text())
    saved["config"]["training_steps"] = 1000
    (runs / "unfinished" / "config.json").write_text(json.dumps(saved))
    log = runs / "unfinished" / "log.txt"
    log.write_text(log.read_text().split("Optimization Finished!")[0])
    for age, name in enumerate(("unfinished", "diverged", "finished")):
        os.utime(runs / name / "log.txt", (1e9 - age * 100, 1e9 - age * 100))

    r = run_predict("--test_index", "0", "--runs_dir", str(runs))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"# run {runs}/finished: checkpoint at step 300 of 300; ")
    diverged = re.search(r"loss became \S+ at step \d+", (runs / "diverged" / "log.txt").read_text())
    assert r.stderr.splitlines() == [
        f"# skipped {runs}/unfinished: unfinished (step 300 of 1000)",
        f"# skipped {runs}/diverged: it diverged ({diverged[0]})"]
    # given explicitly, an unfinished run is used, and says so
    r = run_predict("--test_index", "0", "--run", str(runs / "unfinished"))
    assert r.returncode == 0 and r.stdout.splitlines()[0] == (
        f"# run {runs}/unfinished: checkpoint at step 300 of 1000; unfinished (step 300 of "
        "1000): its accuracy was never measured, predictions may be poor")
    shutil.rmtree(runs / "finished")
    r = run_predict("--test_index", "0", "--runs_dir", str(runs))
    assert r.returncode == 1 and r.stderr == (
        f"predict.py: error: no run in {runs}/ finished training without diverging (newest: "
        f"{runs}/unfinished, unfinished (step 300 of 1000)); train one with python "
        "train_rnn.py, or give --run runs/NAME\n")


def render(x, scale, paper, ink, gradient=0.0, noise=0.0, rng=None):
    """An MNIST digit (28, 28) in [0, 1] drawn `scale` times larger on a page: grey levels
    `paper` and `ink` (0..255), light falling off by `gradient` across the page, pixel noise."""
    size = 28 * scale
    big = np.asarray(Image.fromarray(np.round(x * 255).astype(np.uint8)).resize(
        (size, size), Image.BICUBIC), np.float32) / 255
    page = np.zeros((size + 60, size + 100), np.float32)
    page[20:20 + size, 60:60 + size] = big
    light = 1 - gradient * np.linspace(0, 1, page.shape[1])[None, :]
    img = (paper * (1 - page) + ink * page) * light
    if noise:
        img = img + rng.normal(0, noise, img.shape)
    return Image.fromarray(np.clip(np.round(img), 0, 255).astype(np.uint8))


@pytest.mark.slow
def test_predictions_do_not_depend_on_the_paper(trained_run, mnist, tmp_path):
    """Twenty MNIST test digits drawn 4-8x larger on six kinds of paper: the predictions on
    each paper equal those on clean white paper for at least 19 of the 20."""
    model = predicting.Model(str(trained_run))
    rng = np.random.RandomState(0)
    digits = [mnist.test.images[i].reshape(28, 28) for i in range(20)]
    scales = [4 + i % 5 for i in range(20)]

    def predictions(draw):
        inputs = []
        for i, (x, scale) in enumerate(zip(digits, scales)):
            path = tmp_path / f"{i}.png"
            image = draw(x, scale)
            if isinstance(image, Image.Image):
                image.save(path)
            else:
                path = image                       # a file of its own kind, made by `draw`
            inputs.append(images.load_image(str(path)))
        return model.probabilities(np.stack(inputs)).argmax(1)

    white = predictions(lambda x, s: render(x, s, 255, 0))
    truth = np.array([mnist.test.labels[i].argmax() for i in range(20)])
    assert (white == truth).mean() >= 0.7          # a model that reads digits at all

    def rotated_jpeg(x, s):
        """Stored sideways, with the EXIF tag that says how to turn it upright."""
        image = render(x, s, 245, 20).transpose(Image.Transpose.ROTATE_90)
        exif = Image.Exif()
        exif[0x0112] = 6                           # orientation: rotate 90 clockwise to view
        path = tmp_path / "photo.jpg"
        image.convert("RGB").save(path, quality=92, exif=exif)
        return path
    papers = {
        "dark on grey (170/40)": lambda x, s: render(x, s, 170, 40),
        "light on dark": lambda x, s: render(x, s, 20, 230),
        "dark on light grey, RGB": lambda x, s: render(x, s, 200, 30).convert("RGB"),
        "lighting gradient": lambda x, s: render(x, s, 250, 30, gradient=0.45),
        "noise": lambda x, s: render(x, s, 230, 40, noise=10, rng=rng),
        "rotated JPEG with EXIF": rotated_jpeg,
    }
    for name, draw in papers.items():
        got = predictions(draw)
        assert (got != white).sum() <= 1, (name, got, white)


def test_a_28x28_dark_on_white_digit_is_inverted(mnist):
    """Only light-on-dark 28x28 images are taken as they are; dark on white is MNIST inverted."""
    for i in range(5):
        x = mnist.test.images[i].reshape(28, 28)
        dark = Image.fromarray(255 - np.round(x * 255).astype(np.uint8))
        made = images.mnist_like(dark)
        assert made[0].max() == 0 and made.max() > 0.9          # light strokes on black
        assert np.abs(made - x).mean() < 0.1, i                 # taken as is: about 0.8
        best = max(np.corrcoef(np.roll(made, shift, (0, 1)).ravel(), x.ravel())[0, 1]
                   for shift in [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0)])
        assert best > 0.7, i                                   # inverted: below 0


def png_header(width, height):
    """A small PNG file that claims width x height grey pixels (a decompression bomb's
    header: its pixels are not there)."""
    import struct
    import zlib

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0,
                                                                 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("size", [(20000, 20000), (9000, 9000)])
def test_a_huge_image_is_refused_before_decoding(trained_run, tmp_path, size):
    path = tmp_path / "huge.png"
    path.write_bytes(png_header(*size))
    r = run_predict(str(path), "--run", str(trained_run))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == (f"predict.py: error: {path}: {size[0]}x{size[1]} pixels is more than this "
                        "takes (50 megapixels); shrink it first (a digit needs no more than "
                        "1024x1024)\n")


def test_a_phone_sized_photo_is_shrunk_first(tmp_path):
    """A 12-megapixel photo gives the input of the same photo at 1024 pixels."""
    from PIL import ImageDraw
    photo = Image.new("RGB", (4000, 3000), (232, 228, 220))
    ImageDraw.Draw(photo).line([(1800, 700), (2050, 2300)], fill=(25, 25, 35), width=90)
    photo.save(tmp_path / "big.jpg", quality=92)
    photo.resize((1024, 768), Image.LANCZOS).save(tmp_path / "small.png")
    big, small = (images.load_image(str(tmp_path / n)) for n in ("big.jpg", "small.png"))
    assert big.shape == (28, 28) and np.abs(big - small).mean() < 0.02
    rows = np.nonzero(big.max(1) > 0.5)[0]
    assert rows[-1] - rows[0] + 1 >= 19                  # the stroke fills the 20-pixel box


@pytest.mark.slow
def test_one_missing_image_among_several(trained_run, mnist, tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.round(mnist.test.images[0].reshape(28, 28) * 255).astype(np.uint8)).save(good)
    r = run_predict(str(tmp_path / "missing.png"), str(good), "--run", str(trained_run))
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        f"predict.py: error: {tmp_path}/missing.png: no such file",
        "# 1 of 2 image(s) could not be read (above)"]
    assert r.stdout.splitlines()[1].startswith(f"{good}: ")


def test_an_unwritable_save_input_is_checked_first(tmp_path):
    r = run_predict(str(tmp_path / "missing.png"), "--run", str(tmp_path / "no_run"),
                    "--save_input", str(tmp_path / "nope" / "seen.png"))
    assert r.returncode == 1 and r.stderr == (
        f"predict.py: error: --save_input {tmp_path}/nope/seen.png: cannot write there (No such "
        "file or directory); give a new PNG file name in a writable folder\n")


def test_runs_are_found_from_the_project_folder(tmp_path, monkeypatch):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (project / "runs").mkdir(parents=True)
    elsewhere.mkdir()
    monkeypatch.setattr(predicting, "ROOT", str(project))
    monkeypatch.chdir(elsewhere)
    assert predicting.find_runs_dir("runs") == str(project / "runs")
    (elsewhere / "runs").mkdir()                       # a runs/ here comes first
    assert predicting.find_runs_dir("runs") == "runs"
    assert predicting.find_runs_dir("/abs/runs") == "/abs/runs"


@pytest.mark.slow
def test_a_better_run_is_named_when_the_newest_is_far_below_the_tutorial(trained_run, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    floor = predicting.tutorial_lowest_accuracy()
    for name, accuracy, age in (("good", floor + 0.01, 200), ("short", floor - 0.2, 100),
                                ("poorer", floor - 0.3, 300)):
        shutil.copytree(trained_run, runs / name)
        log = runs / name / "log.txt"
        log.write_text(re.sub(r"(all 10000 test images: )[0-9.]+", rf"\g<1>{accuracy:.4f}",
                              log.read_text()))
        os.utime(log, (1e9 - age, 1e9 - age))
    r = run_predict("--test_index", "0", "--runs_dir", str(runs))
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        f"# {runs}/short ends below every seed of the tutorial; a better run is {runs}/good "
        f"(accuracy {floor + 0.01:.4f}): --run {runs}/good"]
    os.utime(runs / "good" / "log.txt")                # the newest now: nothing to suggest
    r = run_predict("--test_index", "0", "--runs_dir", str(runs))
    assert r.returncode == 0 and r.stderr == ""


def test_the_belief_after_row_t_is_the_model_that_reads_only_t_rows(trained_run, mnist):
    """row_beliefs[:, t-1] must be what the same weights predict when the image ends after row
    t: a graph of t timesteps (the LSTM's variables don't depend on their number) fed rows 1..t."""
    import train_rnn
    from lstm_mnist.tf1 import tf1
    images = mnist.test.images[:16].reshape(-1, 28, 28)
    model = predicting.Model(str(trained_run))
    probs, beliefs = model.reading(images)
    assert beliefs.shape == (16, 28, 10)
    np.testing.assert_allclose(beliefs[:, -1], probs, atol=1e-6)
    for t in (1, 9, 20):
        cfg = types.SimpleNamespace(**dict(vars(model.cfg), timesteps=t))
        with tf1.Graph().as_default():
            g = train_rnn.build_graph(cfg, seed=0)
            with tf1.Session() as sess:
                tf1.train.Saver(tf1.trainable_variables()).restore(sess, model.checkpoint)
                alone = sess.run(g["prediction"], {g["X"]: images[:, :t]})
        np.testing.assert_allclose(beliefs[:, t - 1], alone, atol=1e-5, err_msg=f"t={t}")
    # and they do change as it reads: after one row it knows little
    assert np.mean(beliefs[:, 0].argmax(1) == probs.argmax(1)) < 0.5


def test_reading_writes_the_figure_for_each_image(trained_run, tmp_path):
    r = run_predict("--test_index", "0", "1", "--run", str(trained_run),
                    "--reading", str(tmp_path / "read.png"))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["read-0.png", "read-1.png"]
    with Image.open(tmp_path / "read-0.png") as figure:
        assert figure.format == "PNG" and figure.size == (640, 390)
    r = run_predict("--test_index", "0", "--run", str(trained_run),
                    "--reading", str(tmp_path / "nowhere" / "read.png"))
    assert r.returncode == 1 and r.stderr == (f"predict.py: error: --reading {tmp_path}/nowhere/"
                                              "read.png: cannot write there (No such file or "
                                              "directory); give a new PNG file name in a "
                                              "writable folder\n")


def test_the_reading_figure_shows_the_input_and_every_rows_belief():
    image = np.zeros((28, 28), np.float32)
    image[4:24, 12:16] = 1
    beliefs = np.full((28, 10), 0.02, np.float32)
    beliefs[np.arange(28), np.arange(28) % 10] = 0.82
    fig = reading.reading_figure(image, beliefs, "a title")
    seen, strip = fig.axes[:2]
    np.testing.assert_array_equal(seen.images[0].get_array(), image)
    np.testing.assert_array_equal(strip.images[0].get_array(), beliefs)
    # row t of the strip lies level with row t of the image
    assert seen.get_ylim() == strip.get_ylim() == (27.5, -0.5)
    np.testing.assert_array_equal(strip.collections[0].get_offsets(),
                                  np.c_[np.arange(28) % 10, np.arange(28)])
    note = reading.reading_figure(image, None)
    assert any("bidirectional" in t.get_text() for t in note.axes[1].texts)
    assert reading.figure_png(note).startswith(b"\x89PNG")


@pytest.mark.slow
def test_a_run_of_the_fast_lstm_reads_with_the_tutorials_cell(tmp_path, mnist_dir, mnist):
    """The fast LSTM gives only its last output; Model builds the tutorial's cell on the same
    variables, so a fast run's predictions are its own graph's, and it has every row's belief."""
    run = train_run(tmp_path, mnist_dir, "fast", "--training_steps=30", "--display_step=10",
                    "--lstm_impl=fast", "--learning_rate=0.1", "--seed=4")
    images = mnist.test.images[:8]
    probs, beliefs = predicting.Model(str(run)).reading(images.reshape(-1, 28, 28))
    np.testing.assert_allclose(probs, graph_probabilities(run, images), atol=1e-5)
    assert beliefs.shape == (8, 28, 10)


def test_deep_and_float_images_are_read_by_their_range(tmp_path):
    """A float TIFF of a digit in 0..1 and a 16-bit PNG read as the 8-bit digit does; an
    all-black 28x28 image is blank, not a "1"."""
    from lstm_mnist import images
    digit = np.zeros((28, 28), np.float32)
    digit[5:23, 12:16] = 0.9
    for name, array in (("float.tif", digit), ("deep.png", (digit * 65535).astype(np.uint16)),
                        ("plain.png", np.round(digit * 255).astype(np.uint8))):
        Image.fromarray(array).save(tmp_path / name)
        np.testing.assert_allclose(images.load_image(str(tmp_path / name)), digit, atol=2e-3,
                                   err_msg=name)
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "black.png")
    with pytest.raises(images.ImageError, match="black.png: no digit found: the image is blank"):
        images.load_image(str(tmp_path / "black.png"))
