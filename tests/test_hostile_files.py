"""compare_log.py against hostile and damaged files: one line on stderr, exit 2 (never 0 or 1,
the verdicts' codes), no traceback, nothing written, nothing that hangs or reads without end."""
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import types

import pytest

from conftest import ROOT
import compare_log

TUTORIAL = os.path.join(ROOT, "reference", "tutorial_output.log")
SEED_2 = os.path.join(ROOT, "reference", "band_runs", "seed_2.log")
BAND = os.path.join(ROOT, "reference", "seed_band.json")
ITER = os.path.join(ROOT, "reference", "editions", "recurrent_network_2017_01", "runs",
                    "seed_1.log")


def compare(*args):
    """compare_log.py's main in this process (as fast as a function call; its exit code as a
    process's), stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = compare_log.main(list(args))
        except SystemExit as e:
            code = e.code
    return types.SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def refused(r, *words):
    """Exit 2 with one line naming the problem."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    for word in words:
        assert word in r.stderr, r.stderr


def edited(tmp_path, source, old, new, count=1):
    text = open(source).read()
    assert re.search(old, text, re.M), old
    path = tmp_path / "edited.log"
    path.write_text(re.sub(old, new, text, count=count, flags=re.M))
    return str(path)


@pytest.mark.parametrize("old, new, words", [
    (r"Training Accuracy= 0\.\d+$", "Training Accuracy= 1.2.3", ["'1.2.3', not a number"]),
    (r"Minibatch Loss= [\d.]+", "Minibatch Loss= --", ["'--', not a number"]),
    (r"Minibatch Loss= [\d.]+", "Minibatch Loss= 1e", ["'1e', not a number"]),
    (r"Minibatch Loss= [\d.]+", "Minibatch Loss= .", ["'.', not a number"]),
    (r"^Testing Accuracy: .*$", "Testing Accuracy: 1e-", ["'1e-', not a number"]),
    (r"Minibatch Loss= [\d.]+", "Minibatch Loss= -1.5", ["'-1.5', outside 0 and up"]),
    (r"Training Accuracy= 0\.\d+$", "Training Accuracy= 7.5", ["'7.5', outside 0..1"]),
    (r"^Testing Accuracy: .*$", "Testing Accuracy: 1.5", ["'1.5', outside 0..1"]),
])
def test_a_malformed_or_impossible_number_is_refused(tmp_path, old, new, words):
    refused(compare(edited(tmp_path, TUTORIAL, old, new)), *words)


def test_a_malformed_accuracy_on_all_images_is_refused(tmp_path):
    path = tmp_path / "all.log"
    path.write_text(open(SEED_2).read() + "# Testing Accuracy on all 10000 test images: 1.2.3\n")
    refused(compare(str(path)), "'1.2.3', not a number")


@pytest.mark.parametrize("source, extra, words", [
    (SEED_2, " --batch_size=0", ["its first line gives a config no run has",
                                 "batch_size must be a positive integer, got 0"]),
    (ITER, " --batch_size=0", ["batch_size must be a positive integer, got 0"]),
    (ITER, " --learning_rate=-1", ["learning_rate must be a positive finite number"]),
])
def test_a_seed_line_with_an_impossible_config_is_refused(tmp_path, source, extra, words):
    refused(compare(edited(tmp_path, source, r"^(# seed .*)$", r"\1" + extra)), *words)


@pytest.mark.parametrize("config", [{"batch_size": "x"}, {"batch_size": 0}, {"num_hidden": 2.5},
                                    {"batch_size": True}])
def test_a_run_folder_whose_config_json_no_run_has_is_refused(tmp_path, config):
    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copy(ITER, folder / "log.txt")
    (folder / "config.json").write_text(json.dumps({"config": config, "seed": 1}))
    refused(compare(str(folder)), f"{folder}: its config.json gives")


def damaged_band(tmp_path, change):
    band = json.load(open(BAND))
    change(band)
    path = tmp_path / "band.json"
    path.write_text(json.dumps(band))
    return str(path)


@pytest.mark.parametrize("change", [
    lambda b: b.__setitem__("config", "x"),
    lambda b: b["seed_values"].__setitem__("loss", b["seed_values"]["loss"][:3]),
    lambda b: b["seed_values"].__setitem__("accuracy", [[7.5] * len(b["steps"])] * len(b["seeds"])),
    lambda b: b["seed_values"].__setitem__("test_accuracy", ["x"] * len(b["seeds"])),
    lambda b: b.__setitem__("seed_values", {"x": 1}),
    lambda b: b.__setitem__("steps", ["a"] * len(b["steps"])),
    lambda b: b.__setitem__("steps", b["steps"][::-1]),
    lambda b: b.__setitem__("seeds", [1.5] * len(b["seeds"])),
    lambda b: b.__setitem__("format", "words"),
    lambda b: b["loss"].__setitem__("std", [0.0] * 3),
    lambda b: b["accuracy"].__setitem__("mean", ["x"] * len(b["steps"])),
], ids=["config", "short values", "accuracy 7.5", "accuracy text", "no values", "text steps",
        "steps reversed", "float seeds", "format", "summary short", "summary text"])
def test_a_damaged_band_file_is_refused(tmp_path, change):
    refused(compare(SEED_2, "--band", damaged_band(tmp_path, change)), "band")


@pytest.mark.parametrize("target, words", [
    ("/proc/compare.png", ["--plot /proc/compare.png: cannot write there"]),
    ("/sys/compare.png", ["--plot /sys/compare.png: cannot write there"]),
    ("/dev/null", ["it exists and is not a regular file"]),
    ("{tmp}", ["it exists and is a folder"]),
    ("{tmp}/no/such/folder/x.png", ["cannot write there (No such file or directory)"]),
])
def test_a_plot_that_cannot_be_written_is_refused_before_judging(tmp_path, target, words):
    target = target.format(tmp=tmp_path)
    before = os.listdir(tmp_path)
    r = compare(SEED_2, "--plot", target)
    refused(r, *words)
    assert r.stdout == "" and os.listdir(tmp_path) == before
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_a_long_legal_plot_name_is_written(tmp_path):
    target = tmp_path / ("p" * 251 + ".png")
    r = compare(SEED_2, "--plot", str(target))
    assert r.returncode == 0, r.stderr
    assert target.stat().st_size > 1000 and os.listdir(tmp_path) == [target.name]


def test_fifos_devices_and_huge_files_are_refused_at_once(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    refused(compare(str(fifo)), "not a regular file")
    refused(compare("/dev/zero"), "not a regular file")
    huge = tmp_path / "huge.log"
    with open(huge, "wb") as f:
        f.truncate(65 * 2**20)   # sparse: no disk used
    refused(compare(str(huge)), "larger than 64 MB")


def test_a_closed_pipe_is_quiet_and_no_verdict(tmp_path):
    r = subprocess.run(f"{sys.executable} compare_log.py {SEED_2} | head -c 10; "
                       "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash",
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.stdout == "# this run" and "Traceback" not in r.stderr
    assert r.returncode in (0, 2), r.returncode   # 0 when all was written before head left


def test_iter_lines_count_steps_by_the_runs_own_batch_size(tmp_path):
    """An Iter log counts images: at --batch_size=64, 'Iter 640' is step 10, not 5."""
    lines = open(ITER).read().splitlines()
    out = [lines[0] + " --batch_size=64"]
    for line in lines[1:]:
        m = re.match(r"Iter (\d+),(.*)", line)
        out.append(f"Iter {int(m[1]) // 2},{m[2]}" if m else line)
    path = tmp_path / "iter64.log"
    path.write_text("\n".join(out) + "\n")
    r = compare(str(path))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "batch_size=64, display_step=10" in r.stderr and "reaching step 780" in r.stderr
