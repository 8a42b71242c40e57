"""serve.py's page in a real browser: Debian's headless Chromium driven by Selenium.

Run by tests/test_page.py inside a network namespace of its own with only loopback up (so
neither the server nor the browser can reach any other address); it passes the trained run and
the MNIST folder in PAGE_RUN and PAGE_MNIST. Not collected on its own (no test_ prefix).
"""
import base64
import io
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ROOT
import data

RUN = os.environ.get("PAGE_RUN")
pytestmark = pytest.mark.skipif(not RUN, reason="run by tests/test_page.py in its namespace")
CANVAS = 280                       # CSS pixels: ten per MNIST pixel
SCREENSHOT = os.environ.get("PAGE_SCREENSHOT")   # where to save a screenshot of the page in use


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "serve.py"), "--run", RUN,
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    lines = [proc.stdout.readline(), proc.stdout.readline()]
    assert lines[1].startswith(f"# serving http://127.0.0.1:{port}/"), (lines, proc.stderr.read())
    yield f"http://127.0.0.1:{port}/", proc
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run", "--window-size=1300,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    yield driver
    driver.quit()


@pytest.fixture
def page(server, browser):
    browser.get(server[0])
    wait_ready(browser)
    return browser


@pytest.fixture(scope="module")
def test_images():
    return data.read_data_sets(os.environ["PAGE_MNIST"], validation_size=0).test


def sent(driver):
    return driver.execute_script("return digitPage.sent")


def wait_ready(driver, before=None):
    """Until the page sent a request after the `before`-th (if given) and every request it sent
    has its answer shown, with no reading still scheduled."""
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(
        "return digitPage.sent > arguments[0] && document.body.dataset.state !== 'busy' && "
        "document.body.dataset.state !== 'loading' && digitPage.shown === digitPage.sent",
        -1 if before is None else before))


def draw(driver, image, kind=interaction.POINTER_MOUSE):
    """Stroke the ink of a (28, 28) MNIST image onto the canvas with real pointer events: each
    row's runs of ink pixels as a press, a move and a release."""
    canvas = driver.find_element(By.ID, "canvas")
    before = sent(driver)
    actions = ActionBuilder(driver, mouse=PointerInput(kind, kind), duration=30)
    for row in range(28):
        ink = np.r_[False, image[row] > 0.5, False].astype(int)
        starts, ends = np.nonzero(np.diff(ink) == 1)[0], np.nonzero(np.diff(ink) == -1)[0] - 1
        for start, end in zip(starts, ends):
            y = row * 10 + 5 - CANVAS // 2        # offsets from the canvas' centre
            actions.pointer_action.move_to(canvas, start * 10 + 5 - CANVAS // 2, y)
            actions.pointer_action.pointer_down()
            actions.pointer_action.move_to(canvas, end * 10 + 5 - CANVAS // 2, y)
            actions.pointer_action.pointer_up()
    actions.perform()
    wait_ready(driver, before)


def answer(driver):
    return driver.execute_script("return digitPage.last")


def decode(url):
    return base64.b64decode(url.split(",", 1)[1])


def predict_cli(*paths):
    """predict.py's own answers for image files: {path: predicted digit}."""
    r = subprocess.run([sys.executable, os.path.join(ROOT, "predict.py"), *map(str, paths),
                        "--run", RUN], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\S+): (\d)  \(", r.stdout, re.M)}


def upload(driver, path):
    before = sent(driver)
    driver.find_element(By.ID, "upload").send_keys(str(path))
    wait_ready(driver, before)
    return answer(driver)


def message(driver):
    shown = driver.find_element(By.ID, "message")
    return shown.text if shown.is_displayed() else None


def test_a_drawn_digit_and_an_upload_read_as_predict_py_reads_them(page, test_images, tmp_path):
    assert re.match(rf"Model: run {os.path.basename(RUN)}, step \d+ of \d+, accuracy 0\.\d{{4}} "
                    r"on all 10000 test images", page.find_element(By.ID, "model").text)
    digit = test_images.images[0].reshape(28, 28)
    draw(page, digit)
    drawn = answer(page)
    assert drawn["status"] == 200, drawn
    sent = tmp_path / "sent.png"
    sent.write_bytes(decode(page.execute_script("return digitPage.lastSent")))
    with Image.open(sent) as image:
        assert image.size == (CANVAS, CANVAS)
    # what the model saw is the digit stroked (centred anew): well correlated with the original
    seen = np.asarray(Image.open(io.BytesIO(decode(drawn["input"]))), np.float32) / 255
    assert np.corrcoef(seen.ravel(), digit.ravel())[0, 1] > 0.5
    assert len(drawn["beliefs"]) == 28 and all(len(row) == 10 for row in drawn["beliefs"])
    assert np.allclose(drawn["beliefs"][-1], drawn["probabilities"], atol=1e-5)
    shown = page.find_element(By.ID, "prediction").text
    bars = page.find_elements(By.CSS_SELECTOR, "#bars li")
    assert len(bars) == 10 and "best" in bars[drawn["prediction"]].get_attribute("class")
    figure = page.find_element(By.ID, "figure")
    assert figure.get_attribute("src").startswith("data:image/png;base64,")
    assert page.execute_script("return arguments[0].naturalWidth", figure) > 300
    if SCREENSHOT:
        page.save_screenshot(SCREENSHOT)

    # a photo of a digit on paper: dark on light, larger, uploaded as a file
    photo = tmp_path / "photo.jpg"
    ink = test_images.images[1].reshape(28, 28)
    Image.fromarray(np.round(255 - 200 * ink).astype(np.uint8)).resize(
        (300, 300), Image.BILINEAR).save(photo, quality=90)
    uploaded = upload(page, photo)
    assert uploaded["status"] == 200, uploaded
    assert predict_cli(sent, photo) == {str(sent): int(shown), str(photo): uploaded["prediction"]}
    assert page.find_element(By.ID, "prediction").text == str(uploaded["prediction"])


def test_a_pen_and_a_finger_draw_too(page, test_images, tmp_path):
    for kind, index in ((interaction.POINTER_PEN, 2), (interaction.POINTER_TOUCH, 3)):
        page.find_element(By.ID, "clear").click()
        digit = test_images.images[index].reshape(28, 28)
        draw(page, digit, kind)
        drawn = answer(page)
        assert drawn["status"] == 200, (kind, drawn)
        seen = np.asarray(Image.open(io.BytesIO(decode(drawn["input"]))), np.float32) / 255
        assert np.corrcoef(seen.ravel(), digit.ravel())[0, 1] > 0.5, kind


def test_bad_input_gets_a_message_and_a_4xx_and_the_server_keeps_serving(page, server,
                                                                         test_images, tmp_path):
    before = sent(page)
    page.find_element(By.ID, "read").click()            # the empty canvas
    wait_ready(page, before)
    assert answer(page)["status"] == 400
    assert message(page) == ("the drawing: no digit found: the image is blank; draw a digit")
    assert page.find_element(By.ID, "prediction").text == "-"

    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    assert upload(page, text)["status"] == 400
    assert message(page) == ("notes.txt: cannot read it as an image (UnidentifiedImageError); "
                             "give a PNG or JPEG file")

    big = tmp_path / "huge.png"
    big.write_bytes(b"\0" * (21 * 2**20))
    assert upload(page, big)["status"] == 413
    assert message(page).startswith("the upload is larger than 20 MB")

    digit = tmp_path / "digit.jpg"
    Image.fromarray(np.round(255 - 200 * test_images.images[4].reshape(28, 28)).astype(
        np.uint8)).resize((400, 400)).save(digit, quality=95)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(digit.read_bytes()[:len(digit.read_bytes()) // 2])
    assert upload(page, truncated)["status"] == 400
    assert message(page) == ("truncated.jpg: cannot read it as an image (OSError); give a PNG "
                             "or JPEG file")

    # still serving, and a good image after the bad ones clears the message
    assert server[1].poll() is None
    assert upload(page, digit)["status"] == 200
    assert message(page) is None
    assert page.find_element(By.ID, "prediction").text.isdigit()


def test_a_taken_port_is_one_line(server):
    port = int(server[0].rsplit(":", 1)[1].strip("/"))
    r = subprocess.run([sys.executable, os.path.join(ROOT, "serve.py"), "--run", RUN,
                        "--port", str(port)], capture_output=True, text=True, timeout=120,
                       cwd=ROOT)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == (
        f"serve.py: error: cannot listen on 127.0.0.1:{port} (Address already in use); give "
        "another --port, or --host")


def test_idle_and_slow_clients_do_not_shut_the_page_for_others(server):
    """150 connections that send one request line and wait (more than waitress's default limit
    of 100): a new visitor is still answered at once, and the idle ones are closed after
    serve.py's timeout."""
    url = server[0]
    host, port = url.split("/")[2].split(":")
    idle = []
    for _ in range(150):
        s = socket.create_connection((host, int(port)), timeout=30)
        s.sendall(b"GET / HTTP/1.1\r\n")
        idle.append(s)
    import time
    import urllib.request
    start = time.monotonic()
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200 and b"<canvas" in answer.read()
    assert time.monotonic() - start < 3
    time.sleep(16)   # channel_timeout 10 s, checked every 2 s
    closed = 0
    for s in idle:
        try:
            closed += s.recv(1) == b""
        except OSError:
            closed += 1
        s.close()
    assert closed == len(idle)
    with urllib.request.urlopen(url + "api/model", timeout=10) as answer:
        assert answer.status == 200
