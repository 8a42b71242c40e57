"""serve.py: its API through Flask's test client, and its page in headless Chromium inside a
network namespace of its own (tests/page_in_chromium.py)."""
import base64
import io
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, train_run
from lstm_mnist import model as predicting
from lstm_mnist import images, reading, server


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, mnist_dir):
    """A run trained through the real command line, good enough to read digits (Adam)."""
    return train_run(tmp_path_factory.mktemp("runs"), mnist_dir, "reader", "--training_steps=400",
                     "--display_step=200", "--optimizer=adam", "--seed=3")


@pytest.fixture(scope="module")
def model(trained_run):
    return predicting.Model(str(trained_run))


@pytest.fixture(scope="module")
def client(model):
    return server.create_app(model).test_client()


def png(array):
    out = io.BytesIO()
    Image.fromarray(np.round(array * 255).astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def post(client, content, name="digit.png"):
    return client.post("/api/read", data={"image": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


@pytest.mark.slow
def test_the_page_and_its_files_are_served_from_the_project(client):
    page = client.get("/")
    assert page.status_code == 200 and b'<canvas id="canvas"' in page.data
    for asset in ("page.js", "page.css"):
        assert client.get(f"/static/{asset}").status_code == 200
    # nothing comes from another host: no URL with a scheme in the page or its script
    text = b"".join(client.get(name).data for name in ("/", "/static/page.js", "/static/page.css"))
    assert b"http://" not in text and b"https://" not in text and b"//cdn" not in text


@pytest.mark.slow
def test_a_reading_is_predict_pys_with_every_rows_belief(client, model, mnist):
    image = mnist.test.images[0].reshape(28, 28)
    r = post(client, png(image))
    assert r.status_code == 200
    body = r.get_json()
    probs, beliefs = model.reading(images.load_image(io.BytesIO(png(image)))[None])
    assert body["prediction"] == probs[0].argmax()
    np.testing.assert_allclose(body["probabilities"], probs[0], atol=1e-6)
    np.testing.assert_allclose(body["beliefs"], beliefs[0], atol=1e-6)
    assert np.array(body["beliefs"]).shape == (28, 10)
    # the belief after the last row is the prediction itself; after row 1 it is not
    np.testing.assert_allclose(body["beliefs"][-1], body["probabilities"], atol=1e-5)
    assert not np.allclose(body["beliefs"][0], body["probabilities"], atol=1e-2)
    seen = np.asarray(Image.open(io.BytesIO(base64.b64decode(
        body["input"].split(",")[1]))), np.float32) / 255
    np.testing.assert_allclose(seen, image, atol=1 / 255)
    assert set(body["server_ms"]) == {"image", "model", "figure"}
    about = client.get("/api/model").get_json()
    assert about["run"] == "reader" and about["row_beliefs"] and about["note"] is None
    assert about["step"] == about["training_steps"] == 400 and 0.5 < about["accuracy"] < 1


@pytest.mark.parametrize("content, name, status, message", [
    (png(np.zeros((280, 280))), "the drawing", 400,
     "the drawing: no digit found: the image is blank; draw a digit"),
    (b"hello", "notes.txt", 400,
     "notes.txt: cannot read it as an image (UnidentifiedImageError); give a PNG or JPEG file"),
    (png(np.zeros((28, 28))), "black.png", 400, "black.png: no digit found: the image is blank"),
    (b"\0" * (server.MAX_UPLOAD_MB * 2**20 + 1), "huge.png", 413,
     "the upload is larger than 20 MB; send a smaller image (a digit needs no more than "
     "1024x1024 pixels)"),
])
@pytest.mark.slow
def test_bad_images_are_a_4xx_with_a_message(client, content, name, status, message):
    r = post(client, content, name)
    assert (r.status_code, r.get_json()) == (status, {"error": message})


@pytest.mark.slow
def test_uploads_up_to_the_limit_are_read_and_many_form_parts_are_named(client, mnist):
    digit = png(mnist.test.images[0].reshape(28, 28))
    for megabytes in (3, server.MAX_UPLOAD_MB - 0.5):   # bytes after IEND: a large file
        padded = digit + b"\0" * int(megabytes * 2**20 - len(digit))
        r = post(client, padded, f"{megabytes}MB.png")
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["prediction"] == int(mnist.test.labels[0].argmax())
    parts = "".join(f"--b\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nx\r\n"
                    for i in range(20000)) + "--b--\r\n"
    r = client.post("/api/read", data=parts.encode(),
                    content_type="multipart/form-data; boundary=b")
    assert r.status_code == 413
    assert r.get_json()["error"].startswith("the form has too many parts or fields")


@pytest.mark.slow
def test_a_truncated_jpeg_and_requests_without_an_image(client, mnist):
    jpeg = io.BytesIO()
    Image.fromarray(np.round(255 * mnist.test.images[0].reshape(28, 28)).astype(np.uint8)).resize(
        (300, 300)).save(jpeg, "JPEG")
    r = post(client, jpeg.getvalue()[:len(jpeg.getvalue()) // 2], "cut.jpg")
    assert r.status_code == 400
    assert r.get_json()["error"].startswith("cut.jpg: cannot read it as an image")
    r = client.post("/api/read")
    assert r.status_code == 400 and "no image in the request" in r.get_json()["error"]
    assert client.get("/api/read").status_code == 405
    assert client.get("/nothing").status_code == 404
    assert post(client, jpeg.getvalue(), "whole.jpg").status_code == 200   # still serving


@pytest.mark.slow
def test_a_bidirectional_run_says_its_strip_has_no_meaning(tmp_path, mnist_dir):
    run = train_run(tmp_path, mnist_dir, "bi", "--training_steps=2", "--display_step=1",
                    "--bidirectional=True", "--num_hidden=8", "--seed=1")
    model = predicting.Model(str(run))
    client = server.create_app(model).test_client()
    assert client.get("/api/model").get_json()["note"] == reading.NO_ROW_BELIEFS
    body = post(client, png(np.pad(np.ones((12, 4)), 8))).get_json()
    assert body["beliefs"] is None and len(body["probabilities"]) == 10


@pytest.mark.slow
def test_the_warm_up_reads_a_digit_and_the_bench_reports_every_part(model, mnist_dir, capsys,
                                                                     monkeypatch):
    app = server.create_app(model)
    assert server.warm_up(app) > 0   # asserts inside that the reading answered 200
    monkeypatch.setattr(model.cfg, "data_dir", mnist_dir)
    assert server.bench(model, 3) == 0
    out = capsys.readouterr().out
    for part in ("image -> 28x28", "prediction + 28 beliefs", "reading figure", "whole request"):
        assert re.search(re.escape(part) + r".* +\d+\.\d +\d+\.\d$", out, re.M), out
    assert re.search(r"^# the first reading of a cold process took \d+ ms", out, re.M), out


@pytest.mark.slow
@pytest.mark.parametrize("host", ["not-a-host", "300.1.2.3", ""])
def test_a_host_that_is_no_address_is_one_line(trained_run, host):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "serve.py"), "--run", str(trained_run),
                        "--host", host, "--port", "0"], capture_output=True, text=True,
                       timeout=120, cwd=ROOT)
    assert r.returncode == 1 and "Traceback" not in r.stderr and r.stdout == ""
    assert r.stderr.strip().splitlines()[-1] == (
        f"serve.py: error: --host {host}: not an address of this machine (e.g. 127.0.0.1, or "
        "0.0.0.0 for every interface)"), r.stderr


def test_no_trained_run_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "serve.py"),
                        f"--runs_dir={tmp_path}"], capture_output=True, text=True, timeout=120,
                       cwd=ROOT)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == (
        f"serve.py: error: no trained run in {tmp_path}/; train one with python train_rnn.py, "
        "or give --run runs/NAME")


@pytest.mark.slow
def test_the_page_in_chromium_in_a_network_namespace_of_its_own(trained_run, mnist_dir):
    """tests/page_in_chromium.py, run by pytest inside `unshare --net` with only loopback up:
    serve.py and Chromium talk over 127.0.0.1 and can reach nothing else."""
    missing = [tool for tool in ("chromium", "chromedriver", "unshare", "ip")
               if not shutil.which(tool)]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"needs {', '.join(missing)} (apt-get install chromium chromium-driver)")
    assert not missing, f"CI must install {missing}"
    own_user = [] if os.geteuid() == 0 else ["--map-root-user"]
    inner = (f"ip link set lo up && exec {sys.executable} -m pytest -q -n 0 -p no:cacheprovider "
             "tests/page_in_chromium.py")
    env = dict(os.environ, PAGE_RUN=str(trained_run), PAGE_MNIST=mnist_dir)
    r = subprocess.run(["unshare", "--net", *own_user, "sh", "-c", inner], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert re.search(r"^5 passed", r.stdout, re.M), r.stdout[-3000:]   # none skipped
