"""Run folders: checkpoints, exact resume after SIGINT and SIGKILL, TensorBoard, bad folders."""
import json
import os
import re
import shutil
import signal
import shlex
import subprocess
import sys
import time

import pytest

from conftest import ROOT, TINY_RUN

TINY = TINY_RUN


def train_cmd(runs_dir, mnist_dir, *args):
    return [sys.executable, os.path.join(ROOT, "train_rnn.py"), f"--runs_dir={runs_dir}",
            f"--data_dir={mnist_dir}", *args]


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)


def interrupt_at(cmd, step, sig):
    """Start training, send `sig` once the log shows `step`; return (exit code, stderr)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    for line in p.stdout:
        if line.startswith(f"Step {step},"):
            p.send_signal(sig)
            break
    _, err = p.communicate(timeout=120)
    return p.returncode, err


@pytest.fixture(scope="module")
def reference_run(tiny_run):
    """The same seed run without interruption (TINY, trained once for the session)."""
    folder, r = tiny_run
    runs = folder.parent
    # the run folder is named when the run starts, and again at the end
    assert r.stderr.splitlines() == [f"# run folder: {runs}/whole",
                                     f"# run folder: {runs}/whole (tensorboard --logdir {runs})"]
    return folder, r.stdout


def test_run_folder_contents(reference_run):
    folder, stdout = reference_run
    assert (folder / "log.txt").read_text() == stdout          # the same lines as stdout
    saved = json.loads((folder / "config.json").read_text())
    assert saved["seed"] == 5 and saved["config"]["num_hidden"] == 32
    names = os.listdir(folder)
    assert {"ckpt-100.index", "ckpt-200.index", "ckpt-300.index", "checkpoint"} <= set(names)
    assert any(n.startswith("events.out.tfevents") for n in names)


@pytest.mark.parametrize("sig, at_step", [
    (signal.SIGINT, 140), pytest.param(signal.SIGKILL, 260, marks=pytest.mark.slow)])
def test_resume_after_interruption_gives_the_same_log(tmp_path, mnist_dir, reference_run,
                                                      sig, at_step):
    folder, _ = reference_run
    cmd = train_cmd(tmp_path, mnist_dir, *TINY, "--run_name=cut")
    code, err = interrupt_at(cmd, at_step, sig)
    cut = tmp_path / "cut"
    if sig == signal.SIGINT:
        assert code == 130 and "Traceback" not in err
        saved = int(re.search(r"checkpoint saved at step (\d+);", err)[1])
        assert at_step <= saved < 200     # between the checkpoints at 100 and 200
        assert f"python train_rnn.py --resume {cut}" in err
    else:
        assert code == -signal.SIGKILL
    assert not [n for n in os.listdir(cut) if "tmp" in n.lower()]   # nothing half-written
    r = run(train_cmd(tmp_path, mnist_dir, f"--resume={cut}"))
    assert r.returncode == 0, r.stderr
    assert (cut / "log.txt").read_text() == (folder / "log.txt").read_text()


def test_tensorboard_scalars_match_the_log(reference_run):
    from lstm_mnist.tf1 import tf
    folder, stdout = reference_run
    logged = {}
    for line in stdout.splitlines():
        if line.startswith("Step "):
            step = int(line.split(",")[0].split()[1])
            logged[step] = (line.split("Loss= ")[1].split(",")[0], line.split("Accuracy= ")[1])
    seen, graph_written = {}, False
    events = [n for n in os.listdir(folder) if n.startswith("events.out.tfevents")]
    for event in tf.compat.v1.train.summary_iterator(str(folder / events[0])):
        graph_written |= event.HasField("graph_def")
        for v in event.summary.value:
            seen.setdefault(event.step, {})[v.tag] = v.simple_value
    assert graph_written
    for step, (loss, acc) in logged.items():
        assert f"{seen[step]['minibatch_loss']:.4f}" == loss
        assert f"{seen[step]['training_accuracy']:.3f}" == acc
    test_line = next(l for l in stdout.splitlines() if l.startswith("Testing Accuracy: "))
    assert seen[300]["test_accuracy"] == pytest.approx(float(test_line.split()[-1]), abs=1e-6)
    assert 0 < seen[300]["test_accuracy_all"] < 1


def copy_with_config(folder, copy, **changes):
    """A copy of the run `folder` whose config.json says `changes`."""
    shutil.copytree(folder, copy)
    saved = json.loads((copy / "config.json").read_text())
    saved["config"].update(changes)
    (copy / "config.json").write_text(json.dumps(saved))
    return copy


def folder_bytes(folder):
    return {n: (folder / n).read_bytes() for n in sorted(os.listdir(folder))}


@pytest.mark.slow
def test_a_corrupted_newest_checkpoint_is_skipped(tmp_path, mnist_dir, reference_run):
    folder, _ = reference_run
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    data_file = copy / "ckpt-300.data-00000-of-00001"
    data_file.write_bytes(data_file.read_bytes()[:100])
    inode = (copy / "config.json").stat().st_ino
    r = run(train_cmd(tmp_path, mnist_dir, f"--resume={copy}", "--training_steps=400"))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.splitlines()[:2] == [
        f"# skipping {copy}/ckpt-300: unreadable (Read less bytes than requested)",
        f"# resuming {copy} from step 200"]
    whole = run(train_cmd(tmp_path, mnist_dir, *TINY, "--training_steps=400", "--run_name=w"))
    steps = [l for l in (copy / "log.txt").read_text().splitlines() if not l.startswith("#")]
    assert steps == [l for l in whole.stdout.splitlines() if not l.startswith("#")]
    # config.json is replaced (temp file and rename), never written in place
    assert (copy / "config.json").stat().st_ino != inode
    assert json.loads((copy / "config.json").read_text())["config"]["training_steps"] == 400
    assert not [n for n in os.listdir(copy) if "tmp" in n.lower()]


def test_a_failed_resume_changes_nothing(tmp_path, mnist_dir, reference_run):
    """The checkpoints are of another model than config.json says: the resume stops with one
    line, and every file of the run is as it was (no cut log, no rewritten config, no new
    TensorBoard file)."""
    copy = copy_with_config(reference_run[0], tmp_path / "copy", num_hidden=64)
    before = folder_bytes(copy)
    r = run(train_cmd(tmp_path, mnist_dir, f"--resume={copy}", "--training_steps=400"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith(
        f"train_rnn.py: error: checkpoint {copy}/ckpt-300 does not match this model")
    assert folder_bytes(copy) == before


@pytest.mark.slow
def test_a_second_process_on_a_run_is_refused(tmp_path, mnist_dir):
    cmd = train_cmd(tmp_path, mnist_dir, *TINY, "--training_steps=5000", "--run_name=busy")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         cwd=ROOT)
    for line in p.stdout:
        if line.startswith("Step 120,"):
            break
    before = (tmp_path / "busy" / "config.json").read_bytes()
    r = run(train_cmd(tmp_path, mnist_dir, f"--resume={tmp_path}/busy"))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == (f"train_rnn.py: error: {tmp_path}/busy is in use by process {p.pid} "
                        f"(training or resuming it); wait for it to end, or stop it (kill -INT "
                        f"{p.pid}: it saves a checkpoint)\n")
    assert (tmp_path / "busy" / "config.json").read_bytes() == before
    p.kill()                                   # SIGKILL releases the lock too
    p.wait()
    last = checkpoints(tmp_path / "busy")[-1]
    r = run(train_cmd(tmp_path, mnist_dir, f"--resume={tmp_path}/busy",
                      f"--training_steps={last + 20}"))
    assert r.returncode == 0, r.stderr


@pytest.mark.slow
def test_a_full_disk_while_saving_is_one_line_and_loses_nothing(tmp_path, mnist_dir,
                                                                 reference_run):
    """The run folder on a 2.5 MB tmpfs (a mount namespace of the test's own): a checkpoint
    fails to write; one line names the folder, the write and the space a checkpoint needs; the
    earlier checkpoint resumes to the uninterrupted run's log."""
    folder, _ = reference_run
    small = tmp_path / "small"
    small.mkdir()
    out = tmp_path / "out"
    script = (f"mount -t tmpfs -o size=2500k tmpfs {small} || exit 99; "
              f"{shlex.join(train_cmd(small, mnist_dir, *TINY, '--checkpoint_every=50', '--keep_checkpoints=5', '--run_name=f'))}"
              f" > {tmp_path}/stdout 2> {tmp_path}/stderr; echo $? > {tmp_path}/code; "
              f"cp -a {small}/f {out}")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    if r.returncode == 99 or not (tmp_path / "code").exists():
        pytest.skip(f"no tmpfs mount here: {r.stderr.strip()}")
    err = (tmp_path / "stderr").read_text()
    assert (tmp_path / "code").read_text().strip() == "1"
    assert "Traceback" not in err and "ERROR" not in err
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(rf"train_rnn.py: error: cannot write checkpoint ckpt-\d+ in {small}/f "
                        r"\(no space left on device\); a checkpoint needs about 0\.\d MB free "
                        rf"there; the newest checkpoint is intact: free space, then resume with "
                        rf"python train_rnn.py --resume {small}/f", last), last
    assert err.count("\n") == 2                # the run folder's line, then that one
    r = run(train_cmd(tmp_path, mnist_dir, f"--resume={out}"))
    assert r.returncode == 0, r.stderr
    expected = (folder / "log.txt").read_text().splitlines()[1:]
    assert (out / "log.txt").read_text().splitlines()[1:] == expected


def wait_until_tensorflow_loads(p, timeout=60):
    """Until process `p` has TensorFlow's C++ library mapped: it is inside `import tensorflow`,
    which goes on for about a second more. (A fixed sleep of 1 s had let a warm machine finish
    predict.py before the signal came.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/maps") as f:
                if "libtensorflow_framework" in f.read():
                    return
        except OSError:   # it has just ended
            break
        time.sleep(0.005)
    raise AssertionError(f"TensorFlow never started loading (exit {p.poll()})")


@pytest.mark.parametrize("script", ["train_rnn.py", "predict.py"])
def test_ctrl_c_while_tensorflow_loads_is_one_line(script, reference_run):
    folder, _ = reference_run   # predict.py loads TensorFlow for its model, a run to read
    args = ["--run", str(folder), "--test_index", "0"] if script == "predict.py" else []
    # Ctrl-C's default action in the script, as from a terminal (a test worker may ignore it)
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, script), *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_until_tensorflow_loads(p)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130 and out == ""
    assert err in ("# interrupted while loading; nothing was started\n",
                   "# interrupted while TensorFlow loaded; nothing was started\n",
                   "# interrupted before training started; nothing was saved\n"), err


def test_config_mismatch_and_missing_run(tmp_path, mnist_dir, reference_run):
    folder, _ = reference_run
    r = run(train_cmd(tmp_path, mnist_dir, f"--resume={folder}", "--num_hidden=64"))
    assert r.returncode == 1
    assert f"{folder} was trained with num_hidden=32, not 64" in r.stderr
    r = run(train_cmd(tmp_path, mnist_dir, f"--resume={tmp_path}/nope"))
    assert r.returncode == 1 and "is not a run folder (no config.json)" in r.stderr
    r = run(train_cmd(tmp_path, mnist_dir, *TINY, "--run_name=whole", f"--runs_dir={folder.parent}"))
    assert r.returncode == 1 and "exists; resume it with --resume" in r.stderr


def checkpoints(folder):
    return sorted(int(n[5:-6]) for n in os.listdir(folder) if re.fullmatch(r"ckpt-\d+\.index", n))


@pytest.mark.slow
def test_killed_before_the_first_checkpoint_starts_again(tmp_path, mnist_dir, reference_run):
    folder, _ = reference_run
    code, _ = interrupt_at(train_cmd(tmp_path, mnist_dir, *TINY, "--run_name=B"), 60,
                           signal.SIGKILL)
    assert code == -signal.SIGKILL and checkpoints(tmp_path / "B") == []
    r = run(train_cmd(tmp_path, mnist_dir, *TINY, "--run_name=B"))      # the name is taken
    assert r.returncode == 1 and f"run folder {tmp_path}/B exists; resume it" in r.stderr
    r = run(train_cmd(tmp_path, mnist_dir, f"--resume={tmp_path}/B"))
    assert r.returncode == 0, r.stderr
    assert (f"# {tmp_path}/B stopped before its first checkpoint: starting it again from "
            "step 1") in r.stderr
    assert (tmp_path / "B" / "log.txt").read_text() == (folder / "log.txt").read_text()


@pytest.mark.slow
def test_keep_checkpoints_holds_across_a_resume(tmp_path, mnist_dir):
    args = (*TINY, "--checkpoint_every=50", "--keep_checkpoints=2", "--run_name=k")
    code, _ = interrupt_at(train_cmd(tmp_path, mnist_dir, *args), 260, signal.SIGKILL)
    assert code == -signal.SIGKILL and checkpoints(tmp_path / "k")[-1] == 250
    r = run(train_cmd(tmp_path, mnist_dir, f"--resume={tmp_path}/k"))
    assert r.returncode == 0, r.stderr
    assert checkpoints(tmp_path / "k") == [250, 300]
    state = (tmp_path / "k" / "checkpoint").read_text()
    assert "ckpt-200" not in state and 'model_checkpoint_path: "ckpt-300"' in state


@pytest.mark.slow
def test_resuming_a_finished_run(tmp_path, mnist_dir, reference_run):
    folder, _ = reference_run
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    before = {n: (copy / n).read_bytes() for n in os.listdir(copy)}
    r = run(train_cmd(tmp_path, mnist_dir, f"--resume={copy}"))
    assert r.returncode == 0 and r.stdout == ""
    assert r.stderr.startswith(f"# {copy} is finished (300 of 300 steps); nothing changed.")
    assert {n: (copy / n).read_bytes() for n in os.listdir(copy)} == before

    # a longer run from a finished one: the steps of a 400-step run, each logged once
    r = run(train_cmd(tmp_path, mnist_dir, f"--resume={copy}", "--training_steps=400"))
    assert r.returncode == 0, r.stderr
    whole = run(train_cmd(tmp_path, mnist_dir, *TINY, "--training_steps=400", "--run_name=w"))
    steps = [l for l in (copy / "log.txt").read_text().splitlines() if l.startswith("Step ")]
    assert steps == [l for l in whole.stdout.splitlines() if l.startswith("Step ")]
    assert json.loads((copy / "config.json").read_text())["config"]["training_steps"] == 400
    from lstm_mnist.tf1 import tf
    seen = []
    for name in sorted(n for n in os.listdir(copy) if n.startswith("events.out")):
        for event in tf.compat.v1.train.summary_iterator(str(copy / name)):
            seen += [(v.tag, event.step) for v in event.summary.value]
    losses = [step for tag, step in seen if tag == "minibatch_loss"]
    assert losses == [1] + list(range(20, 401, 20))
    assert [s for tag, s in seen if tag == "test_accuracy"] == [300, 400]
    r = run(train_cmd(tmp_path, mnist_dir, f"--resume={copy}", "--training_steps=350"))
    assert r.returncode == 1 and "has trained 400 steps already" in r.stderr


@pytest.mark.parametrize("name", ["../../tmp/x", "a/b", "", ".."])
def test_run_name_is_one_plain_folder_name(tmp_path, mnist_dir, name):
    r = run(train_cmd(tmp_path / "runs", mnist_dir, *TINY, f"--run_name={name}"))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == ("train_rnn.py: error: argument --run_name: must be one plain folder "
                        f"name (no '/', not '..', not empty), got {name!r}\n")
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_ctrl_c_on_a_terminal_closes_the_bar_then_says_it_once(tmp_path, mnist_dir):
    import pty
    import fcntl
    import struct
    import termios
    primary, secondary = pty.openpty()             # stderr on a terminal: the bar is shown
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    p = subprocess.Popen(train_cmd(tmp_path, mnist_dir, *TINY, "--run_name=tty"), cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=secondary, text=True)
    os.close(secondary)
    for line in p.stdout:
        if line.startswith("Step 100,"):
            p.send_signal(signal.SIGINT)
            break
    p.communicate(timeout=120)
    screen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:                            # the child closed its end
            break
        if not chunk:
            break
        screen += chunk
    os.close(primary)
    text = screen.decode(errors="replace").replace("\r\n", "\n")   # the terminal's newlines
    assert p.returncode == 130
    assert text.count("# interrupted: checkpoint saved at step") == 1
    frames, message = text.split("# interrupted:")
    assert "/300 [" in frames                       # the bar was there
    assert "|" not in message and "\r" not in message                 # no frame after it
    assert frames.endswith("\n")                   # the bar's last frame ended its line


def test_a_run_folder_with_a_float_step_count_is_one_line(tmp_path, mnist_dir, reference_run):
    """A folder an older version left half-made (training_steps = 500.0 in config.py then)."""
    copy = copy_with_config(reference_run[0], tmp_path / "old", training_steps=500.0)
    before = folder_bytes(copy)
    r = run(train_cmd(tmp_path, mnist_dir, f"--resume={copy}"))
    assert r.returncode == 1 and r.stderr == (
        f"train_rnn.py: error: {copy}/config.json has training_steps=500.0, not an integer; this "
        "run can't be resumed, start a new one\n")
    assert folder_bytes(copy) == before
