"""The draw-a-digit page's server (serve.py): Flask routes for page/ (one static HTML page,
its script and style) and POST /api/read, which turns an image into MNIST's 28x28 input
(images.py), reads it with the loaded model (model.py) and draws the reading (reading.py).
"""
import base64
import io
import os
import threading
import time

import numpy as np
from flask import Flask, jsonify, request
from PIL import Image
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

import data
from lstm_mnist import images, reading

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_UPLOAD_MB = 20   # a 12-megapixel phone photo is 3-8 MB as JPEG
# waitress's limits, so that a few slow or idle clients cannot shut the page for others: a
# connection that sends nothing for 10 s is closed (checked every 2 s), 500 may be open at once
# (waitress's default 100 was used up by 100 idle ones), and headers stay small. Bodies up to 4x
# the upload limit reach Flask, which answers "larger than 20 MB" in JSON; beyond, waitress
# refuses them itself (its default was 1 GB)
LIMITS = {"channel_timeout": 10, "cleanup_interval": 2, "connection_limit": 500,
          "max_request_header_size": 64 * 1024,
          "max_request_body_size": 4 * MAX_UPLOAD_MB * 2**20}


def data_url(png):
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def read_digit(model, image_file, name):
    """Everything the page shows for one image file: prediction, probabilities, beliefs after
    each row (None for a bidirectional model), the 28x28 input and the reading figure, with the
    server's time for each part (ms).

    Raises:
        images.ImageError: not an image, too large, or no digit in it.
    """
    start = time.perf_counter()
    image = images.load_image(image_file, name)            # (28, 28), as predict.py
    read = time.perf_counter()
    probs, beliefs = model.reading(image[None])            # (1, 10), (1, 28, 10) or None
    probs, beliefs = probs[0], None if beliefs is None else beliefs[0]
    predicted = time.perf_counter()
    title = f"read as {probs.argmax()} ({probs.max():.2f})"
    figure = reading.figure_png(reading.reading_figure(image, beliefs, title))
    drawn = time.perf_counter()
    return dict(prediction=int(probs.argmax()), probabilities=probs.tolist(),
                beliefs=None if beliefs is None else beliefs.tolist(),
                input=data_url(images.input_png(image)), figure=data_url(figure),
                server_ms=dict(image=1000 * (read - start), model=1000 * (predicted - read),
                               figure=1000 * (drawn - predicted)))


def create_app(model):
    """The Flask app serving page/ and the JSON API for one loaded model.Model."""
    app = Flask(__name__, static_folder=os.path.join(HERE, "page"), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_MB * 2**20
    one_at_a_time = threading.Lock()   # two cores: concurrent readings only slow each other

    @app.get("/")
    def index():
        return app.send_static_file("index.html")

    @app.get("/api/model")
    def about():
        status = model.status
        n, accuracy = status.full_accuracy or (None, None)
        return jsonify(run=os.path.basename(os.path.normpath(model.run_dir)), path=model.run_dir,
                       step=status.step, training_steps=status.training_steps,
                       accuracy=accuracy, test_images=n,
                       row_beliefs=model.g["row_beliefs"] is not None,
                       note=None if model.g["row_beliefs"] is not None else
                       reading.NO_ROW_BELIEFS)

    @app.post("/api/read")
    def read():
        upload = request.files.get("image")
        if upload is None:
            return error(400, "no image in the request; send a PNG or JPEG file as the form "
                              "field 'image'")
        name = upload.filename or "the image"
        try:
            with one_at_a_time:
                return jsonify(read_digit(model, upload.stream, name))
        except images.ImageError as e:
            hint = "; draw a digit" if name == "the drawing" and "blank" in str(e) else ""
            return error(400, f"{e}{hint}")

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(e):
        if (request.content_length or 0) <= MAX_UPLOAD_MB * 2**20:   # werkzeug's form limits
            return error(413, "the form has too many parts or fields; send one image as the "
                              "form field 'image'")
        return error(413, f"the upload is larger than {MAX_UPLOAD_MB} MB; send a smaller image "
                          "(a digit needs no more than 1024x1024 pixels)")

    @app.errorhandler(HTTPException)
    def other(e):   # 404, 405 ...: JSON for the page, with the library's own description
        return error(e.code, e.description)

    return app


def error(status, message):
    return jsonify(error=message), status


def digit_png(image, size=280):
    """A 28x28 digit in 0..1 as a drawing would send it: dark on light, size x size, PNG bytes."""
    png = io.BytesIO()
    Image.fromarray(np.round(255 - 255 * image).astype(np.uint8)).resize(
        (size, size), Image.BILINEAR).save(png, "PNG")
    return png.getvalue()


def warm_up(app):
    """One reading before the first visitor: a cold process spends about 2 s on its first
    session.run and its first matplotlib figure; the ms of that reading."""
    stroke = np.zeros((28, 28), np.float32)
    stroke[4:24, 13:15] = 1.0   # a "1"
    start = time.perf_counter()
    answer = app.test_client().post("/api/read", data={"image": (io.BytesIO(digit_png(stroke)),
                                                                 "warm-up.png")})
    assert answer.status_code == 200, answer.get_json()
    return 1000 * (time.perf_counter() - start)


def bench(model, n):
    """Time `n` requests with the first n test digits (dark on light PNGs, 280x280, like a
    drawing) through the app, in this process: the server's time per reading, by part."""
    test = data.read_data_sets(model.cfg.data_dir, validation_size=0).test
    app = create_app(model)
    cold = warm_up(app)   # what serve.py does before it listens
    client = app.test_client()
    parts, totals = {}, []
    for i in range(-2, n):   # two more readings to warm up, not timed
        png = digit_png(test.images[max(i, 0)].reshape(28, 28))
        start = time.perf_counter()
        answer = client.post("/api/read", data={"image": (io.BytesIO(png), "d.png")})
        total = 1000 * (time.perf_counter() - start)
        assert answer.status_code == 200, answer.get_json()
        if i >= 0:
            totals.append(total)
            for part, ms in answer.get_json()["server_ms"].items():
                parts.setdefault(part, []).append(ms)
    print(f"# {n} readings of 280x280 PNG digits, ms of server time per reading "
          "(median, 90th percentile)")
    model_ms = np.array(parts["model"])
    for name, values in [("image -> 28x28 input (predict.load_image)", parts["image"]),
                         ("prediction + 28 beliefs (one session.run)", model_ms),
                         ("reading figure (matplotlib, PNG)", parts["figure"]),
                         ("whole request (Flask, JSON)", totals)]:
        print(f"{name:44} {np.median(values):7.1f} {np.percentile(values, 90):7.1f}")
    print(f"# the first reading of a cold process took {cold:.0f} ms; serve.py makes it before "
          "it listens")
    return 0
