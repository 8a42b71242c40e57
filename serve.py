"""Draw a digit and watch the LSTM read it: a page on http://127.0.0.1:8000.

    python serve.py                          # the newest finished run (predict.py's choice)
    python serve.py --run runs/NAME --port 8001
    python serve.py --host 0.0.0.0           # reachable from other machines (default: this one)
    python serve.py --bench 100              # time 100 readings of test digits, serve nothing

The page (page/: one static HTML page, its script and style, nothing fetched from elsewhere)
sends the drawing, or an uploaded photo of a digit, to POST /api/read and shows the prediction,
the ten probabilities and how the LSTM read the image: its belief after each of the 28 rows,
beside the 28x28 input it saw (predict.reading_figure). The image becomes that input through
predict.load_image, as in predict.py; the model is predict.Model, loaded once. Flask routes the
requests, waitress serves them.
"""
import argparse
import base64
import io
import os
import sys
import threading
import time

import numpy as np
from flask import Flask, jsonify, request
from PIL import Image
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
import waitress

import predict

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_UPLOAD_MB = 20   # a 12-megapixel phone photo is 3-8 MB as JPEG


def data_url(png):
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def read_digit(model, image_file, name):
    """Everything the page shows for one image file: prediction, probabilities, beliefs after
    each row (None for a bidirectional model), the 28x28 input and the reading figure, with the
    server's time for each part (ms).

    Raises:
        predict.PredictError: not an image, too large, or no digit in it.
    """
    start = time.perf_counter()
    image = predict.load_image(image_file, name)           # (28, 28), as predict.py
    read = time.perf_counter()
    probs, beliefs = model.reading(image[None])            # (1, 10), (1, 28, 10) or None
    probs, beliefs = probs[0], None if beliefs is None else beliefs[0]
    predicted = time.perf_counter()
    title = f"read as {probs.argmax()} ({probs.max():.2f})"
    figure = predict.figure_png(predict.reading_figure(image, beliefs, title))
    drawn = time.perf_counter()
    return dict(prediction=int(probs.argmax()), probabilities=probs.tolist(),
                beliefs=None if beliefs is None else beliefs.tolist(),
                input=data_url(predict.input_png(image)), figure=data_url(figure),
                server_ms=dict(image=1000 * (read - start), model=1000 * (predicted - read),
                               figure=1000 * (drawn - predicted)))


def create_app(model):
    """The Flask app serving page/ and the JSON API for one loaded predict.Model."""
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
                       predict.NO_ROW_BELIEFS)

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
        except predict.PredictError as e:
            hint = "; draw a digit" if name == "the drawing" and "blank" in str(e) else ""
            return error(400, f"{e}{hint}")

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(e):
        return error(413, f"the upload is larger than {MAX_UPLOAD_MB} MB; send a smaller image "
                          "(a digit needs no more than 1024x1024 pixels)")

    @app.errorhandler(HTTPException)
    def other(e):   # 404, 405 ...: JSON for the page, with the library's own description
        return error(e.code, e.description)

    return app


def error(status, message):
    return jsonify(error=message), status


def bench(model, n):
    """Time `n` requests with the first n test digits (dark on light PNGs, 280x280, like a
    drawing) through the app, in this process: the server's time per reading, by part."""
    import data
    test = data.read_data_sets(model.cfg.data_dir, validation_size=0).test
    client = create_app(model).test_client()
    parts, totals = {}, []
    for i in range(-3, n):   # three readings to warm up, not timed
        digit = test.images[max(i, 0)].reshape(28, 28)
        png = io.BytesIO()
        Image.fromarray(np.round(255 - 255 * digit).astype(np.uint8)).resize(
            (280, 280), Image.BILINEAR).save(png, "PNG")
        start = time.perf_counter()
        answer = client.post("/api/read", data={"image": (io.BytesIO(png.getvalue()), "d.png")})
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
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="serve.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    predict.add_run_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--bench", type=int, metavar="N", help="serve nothing: time N readings "
                        "of MNIST test digits sent as PNG through the app, and print the server's "
                        "milliseconds for each part")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: give a port number 1..65535 (0: any free port)")
    try:
        model = predict.Model(predict.choose_run(args.run, args.runs_dir))
    except predict.PredictError as e:
        parser.exit(1, f"serve.py: error: {e}\n")
    if args.bench:
        return bench(model, args.bench)
    try:
        server = waitress.create_server(create_app(model), host=args.host, port=args.port,
                                        threads=4)
    except OSError as e:   # the port is taken, or the address is not this machine's
        parser.exit(1, f"serve.py: error: cannot listen on {args.host}:{args.port} "
                       f"({e.strerror}); give another --port, or --host\n")
    print(predict.describe_run(model.run_dir, model.status), flush=True)
    print(f"# serving http://{args.host}:{server.effective_port}/ (Ctrl-C stops)", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        print("# stopped", file=sys.stderr)


if __name__ == "__main__":
    main()
