"""Damaged run folders (copies of a real one): the checkpoints on disk are the truth, a
config.json that does not describe them stops resume with nothing touched, and what a killed
process left half-written is cleaned up on the next start."""
import json
import os
import shutil
import subprocess
import sys
import types

import pytest

from conftest import ROOT
from lstm_mnist import runs, sweeps



def train(runs_dir, mnist_dir, *args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "train_rnn.py"),
                           f"--runs_dir={runs_dir}", f"--data_dir={mnist_dir}", *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def finished(tiny_run):
    """A finished 300-step run (checkpoints at 100, 200, 300), and its log."""
    folder, r = tiny_run
    return folder, r.stdout


def continued(log, whole):
    """Whether `log` is `whole`'s steps, then the steps of a resume from its end to step 400
    (that these equal an uninterrupted run's is test_runs.py's)."""
    steps = [l for l in log.splitlines() if l.startswith("Step ")]
    before = [l for l in whole.splitlines() if l.startswith("Step ")]
    return steps[:len(before)] == before and \
        [int(l.split(",")[0][5:]) for l in steps[len(before):]] == list(range(320, 401, 20)) \
        and log.rstrip().splitlines()[-1].startswith("# Testing Accuracy on all")


def files(folder):
    return {n: (folder / n).read_bytes() for n in sorted(os.listdir(folder))}


DAMAGE = {
    "deleted": lambda f: f.unlink(),
    "emptied": lambda f: f.write_text(""),
    "garbled": lambda f: f.write_bytes(b"\x00\xff model_checkpoint_path: \x01{{"),
    "pointing elsewhere": lambda f: f.write_text(
        'model_checkpoint_path: "/nowhere/ckpt-9"\nall_model_checkpoint_paths: "/nowhere/ckpt-9"\n'),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_the_checkpoints_are_found_without_their_index_file(tmp_path, finished, damage):
    copy = tmp_path / "copy"
    shutil.copytree(finished[0], copy)
    DAMAGE[damage](copy / "checkpoint")
    assert runs.checkpoint_steps(copy) == [300, 200, 100]
    assert runs.readable_checkpoint(copy) == (300, [])
    assert runs.latest_step(copy) == 300


def test_a_resume_without_the_index_file_continues_from_the_newest_checkpoint(
        tmp_path, mnist_dir, finished):
    folder, whole = finished
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "checkpoint").unlink()
    kept = {n: b for n, b in files(copy).items() if n.startswith("ckpt-300.")}
    r = train(tmp_path, mnist_dir, f"--resume={copy}", "--training_steps=400")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.splitlines()[0] == f"# resuming {copy} from step 300"
    assert continued((copy / "log.txt").read_text(), whole)
    now = files(copy)
    assert all(now[n] == b for n, b in kept.items())   # the newest kept as it was
    assert runs.checkpoint_steps(copy)[:2] == [400, 300]


@pytest.mark.parametrize("saved, says", [
    ({"config": {"training_steps": 300, "num_hidden": 32}, "seed": 5}, "does not say the run's"),
    ({"config": [], "seed": 5}, "is unreadable"),
    ({"config": {"training_steps": 300}, "seed": "5"}, "is unreadable"),
    ({"config": {}, "seed": True}, "is unreadable"),
])
def test_a_config_json_that_does_not_describe_the_run_is_refused(tmp_path, finished, saved,
                                                                  says):
    copy = tmp_path / "copy"
    shutil.copytree(finished[0], copy)
    (copy / "config.json").write_text(json.dumps(saved))
    with pytest.raises(runs.RunError) as e:
        runs.load_run(str(copy), cfg=None, explicit=set())
    assert str(e.value).startswith(f"{copy}/config.json {says}") and "new run" in str(e.value)


def test_resume_stops_at_such_a_config_json_and_changes_nothing(tmp_path, mnist_dir, finished):
    """The case that lost work: config.py's values (10000 steps) stood in for the run's own."""
    copy = tmp_path / "copy"
    shutil.copytree(finished[0], copy)
    (copy / "config.json").write_text(json.dumps({"config": {}, "seed": 5}))
    before = files(copy)
    r = train(tmp_path, mnist_dir, f"--resume={copy}")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines()[-1] == (
        f"train_rnn.py: error: {copy}/config.json does not say the run's learning_rate, "
        "training_steps, batch_size, display_step, num_input, timesteps, num_hidden, "
        "num_classes, so it does not describe its checkpoints; nothing was changed: restore "
        "it, or start a new run")
    assert files(copy) == before


@pytest.mark.slow
def test_what_a_killed_process_left_is_removed_on_the_next_start(tmp_path, mnist_dir,
                                                                 finished):
    folder, whole = finished
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    left = [".tmp-4242-log.txt", "ckpt-300.data-00000-of-00001.tempstate1234567890",
            "ckpt-400_temp"]
    (copy / left[0]).write_text("half")
    (copy / left[1]).write_bytes(b"\0" * 100)
    (copy / left[2]).mkdir()
    (copy / left[2] / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"\0")
    r = train(tmp_path, mnist_dir, f"--resume={copy}", "--training_steps=400")
    assert r.returncode == 0, r.stderr
    for name in left:
        assert f"# removed {name}: left half-written by a process that was killed" in r.stderr
        assert not (copy / name).exists()
    assert continued((copy / "log.txt").read_text(), whole)


def test_a_sweep_reads_a_finished_run_without_timing_json(tmp_path, finished):
    """Killed right after its last checkpoint, then resumed, a run trains no step to time."""
    copy = tmp_path / "copy"
    shutil.copytree(finished[0], copy)
    (copy / "timing.json").unlink()
    result = sweeps.run_result(types.SimpleNamespace(seed=5, run_dir=str(copy)))
    assert result["steps"] == 300 and result["ms_per_step"] is None
    assert 0 < result["test_accuracy_full"] < 1
    (copy / "timing.json").write_text("{not json")
    assert sweeps.run_result(types.SimpleNamespace(seed=5, run_dir=str(copy)))["cores"] is None


def test_predict_skips_a_damaged_newer_run_with_a_note(tmp_path, finished, capsys):
    from lstm_mnist import model
    runs_dir = tmp_path / "runs"
    good, odd_byte, log_dir, bad_config = (runs_dir / n for n in ("a", "b", "c", "d"))
    for folder in (good, odd_byte, log_dir, bad_config):
        shutil.copytree(finished[0], folder)
    with open(odd_byte / "log.txt", "ab") as f:
        f.write(b"# \xff\xfe a byte that is not UTF-8\n")
    (log_dir / "log.txt").unlink()
    (log_dir / "log.txt").mkdir()
    (bad_config / "config.json").write_text('{"config": {}, "seed": 5}')
    for i, folder in enumerate((good, odd_byte, log_dir, bad_config)):
        os.utime(folder / "log.txt", (1e9 + i, 1e9 + i))   # d newest, a oldest
    chosen = model.choose_run(None, str(runs_dir))
    err = capsys.readouterr().err.splitlines()
    assert chosen == str(odd_byte)   # readable: the odd byte reads as U+FFFD
    assert err[0].startswith(f"# skipped {bad_config}: {bad_config}/config.json does not say")
    assert err[1].startswith(f"# skipped {log_dir}: {log_dir}/log.txt is unreadable")
    assert runs.run_status(str(odd_byte)).full_accuracy[0] == 10000
