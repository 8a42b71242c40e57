"""sweep.py: a grid of config values, trained for real on a tiny scale, its table, JSON, figure."""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

import pytest

from lstm_mnist import sweeps
import sweep
from lstm_mnist.tutorial_log import read as read_log
from conftest import ROOT

TINY = ["--training_steps=20", "--display_step=10", "--num_hidden=8", "--batch_size=32"]


def run_sweep(tmp_path, mnist_dir, *args, train=TINY):
    cmd = [sys.executable, os.path.join(ROOT, "sweep.py"), *args,
           "--sweep_dir", str(tmp_path / "sw"), "--", f"--data_dir={mnist_dir}", *train]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_parse_grid_multiplies_keys_and_pairs_joined_ones():
    assert sweeps.parse_grid(["cell=gru,lstm",
                              "optimizer:learning_rate=adam:0.01,momentum:0.1"]) == [
        [("cell", "gru"), ("optimizer", "adam"), ("learning_rate", "0.01")],
        [("cell", "gru"), ("optimizer", "momentum"), ("learning_rate", "0.1")],
        [("cell", "lstm"), ("optimizer", "adam"), ("learning_rate", "0.01")],
        [("cell", "lstm"), ("optimizer", "momentum"), ("learning_rate", "0.1")]]
    assert sweeps.run_name([("cell", "gru"), ("learning_rate", "0.01")], 3) == \
        "cell=gru,learning_rate=0.01-seed3"


def test_a_sweep_of_one_run_tables_it(tmp_path, mnist_dir):
    """The quick suite's sweep: one combination, one seed, end to end."""
    r = run_sweep(tmp_path, mnist_dir, "optimizer=adam", "--seeds", "1",
                  train=("--training_steps=10", "--display_step=5", "--num_hidden=8"))
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "sw"
    [run] = os.listdir(folder / "runs")
    assert run == "optimizer=adam-seed1"
    log = read_log(str(folder / "runs" / run))
    row = json.loads((folder / "results.json").read_text())["rows"][0]
    assert row["final_minibatch_loss"]["values"] == [log.loss[-1]]
    assert r.stdout.splitlines()[2].startswith(f"| optimizer=adam | 1 | {log.test_accuracy_full:.4f} |")
    assert (folder / "curves.png").read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory, mnist_dir):
    tmp = tmp_path_factory.mktemp("sweep")
    r = run_sweep(tmp, mnist_dir, "optimizer=gradient_descent,adam",
                  "cell:bidirectional=basic_lstm:False,gru:True", "--seeds", "2")
    assert r.returncode == 0, r.stderr
    return tmp / "sw", r


@pytest.mark.slow
def test_tiny_sweep_tables_what_its_runs_logged(tiny_sweep):
    folder, r = tiny_sweep
    combos = ["optimizer=gradient_descent,cell=basic_lstm,bidirectional=False",
              "optimizer=gradient_descent,cell=gru,bidirectional=True",
              "optimizer=adam,cell=basic_lstm,bidirectional=False",
              "optimizer=adam,cell=gru,bidirectional=True"]
    assert sorted(os.listdir(folder / "runs")) == sorted(f"{c}-seed{s}" for c in combos
                                                         for s in (1, 2))
    results = json.loads((folder / "results.json").read_text())
    assert [row["label"] for row in results["rows"]] == [c.replace(",", " ") for c in combos]
    table = r.stdout.splitlines()
    assert table[0].startswith("| combination | seeds | accuracy, all 10000 test images |")
    assert len(table) == 2 + len(combos)
    assert (folder / "results.md").read_text().endswith(r.stdout)
    for combo, row, line in zip(combos, results["rows"], table[2:]):
        logs = [read_log(str(folder / "runs" / f"{combo}-seed{s}" / "log.txt")) for s in (1, 2)]
        timings = [json.loads((folder / "runs" / f"{combo}-seed{s}" / "timing.json").read_text())
                   for s in (1, 2)]
        accuracy = [log.test_accuracy_full for log in logs]
        loss = [log.loss[-1] for log in logs]
        ms = [t["ms_per_step"] for t in timings]
        assert row["test_accuracy_full"]["mean"] == pytest.approx(statistics.fmean(accuracy))
        assert row["test_accuracy_full"]["sd"] == pytest.approx(statistics.stdev(accuracy))
        assert row["final_minibatch_loss"]["values"] == loss
        assert row["ms_per_step"]["mean"] == pytest.approx(statistics.fmean(ms))
        assert row["mean_loss"] == pytest.approx([statistics.fmean(v) for v in
                                                  zip(logs[0].loss, logs[1].loss)])
        assert row["steps"] == [20] and row["curve_steps"] == [1, 10, 20]
        assert line == (f"| {row['label']} | 2 | {statistics.fmean(accuracy):.4f} ± "
                        f"{statistics.stdev(accuracy):.4f} | {statistics.fmean(loss):.4f} ± "
                        f"{statistics.stdev(loss):.4f} | {statistics.fmean(ms):.1f} ± "
                        f"{statistics.stdev(ms):.1f} | 20 |")
    run_cfg = json.loads((folder / "runs" / f"{combos[3]}-seed2" / "config.json").read_text())
    assert run_cfg["seed"] == 2 and run_cfg["config"]["cell"] == "gru"
    assert run_cfg["config"]["bidirectional"] is True and run_cfg["config"]["optimizer"] == "adam"
    png = (folder / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20000
    assert results["versions"]["tensorflow"] and results["train_args"][1:] == TINY


@pytest.mark.slow
def test_same_command_resumes_and_trains_only_what_is_missing(tiny_sweep, mnist_dir):
    folder, first = tiny_sweep
    gone = folder / "runs" / "optimizer=adam,cell=gru,bidirectional=True-seed1"
    shutil.rmtree(gone)
    r = run_sweep(folder.parent, mnist_dir, "optimizer=gradient_descent,adam",
                  "cell:bidirectional=basic_lstm:False,gru:True", "--seeds", "2")
    assert r.returncode == 0, r.stderr
    assert "7 of 8 runs already done; running 1" in r.stderr
    assert (gone / "timing.json").exists()
    # the rerun run repeats its seed: the same log, so the same table but for its speed
    strip = [re.sub(r"\| [0-9.]+ ± [0-9.]+ \| 20 \|$", "", l) for l in (first.stdout,
                                                                          r.stdout)]
    assert strip[0] == strip[1]


@pytest.mark.slow
def test_a_stopped_run_is_resumed_from_its_checkpoint(tiny_sweep, mnist_dir, tmp_path):
    folder, first = tiny_sweep
    copy = tmp_path / "sw"
    shutil.copytree(folder, copy)
    name = "optimizer=adam,cell=basic_lstm,bidirectional=False-seed2"
    whole_log = (copy / "runs" / name / "log.txt").read_text()
    shutil.rmtree(copy / "runs" / name)
    # the same run as the sweep starts it, Ctrl-C'd after step 12: a checkpoint at 12
    cmd = [sys.executable, os.path.join(ROOT, "train_rnn.py"), "--optimizer=adam",
           "--cell=basic_lstm", "--bidirectional=False", f"--data_dir={mnist_dir}", *TINY,
           "--seed=2", f"--runs_dir={copy / 'runs'}", f"--run_name={name}"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in p.stdout:
        if line.startswith("Step 10,"):
            p.send_signal(signal.SIGINT)
            break
    p.communicate(timeout=120)
    assert p.returncode == 130 and not (copy / "runs" / name / "timing.json").exists()
    r = run_sweep(tmp_path, mnist_dir, "optimizer=gradient_descent,adam",
                  "cell:bidirectional=basic_lstm:False,gru:True", "--seeds", "2")
    assert r.returncode == 0 and "7 of 8 runs already done; running 1" in r.stderr, r.stderr
    assert (copy / "runs" / name / "log.txt").read_text() == whole_log
    timing = json.loads((copy / "runs" / name / "timing.json").read_text())
    assert timing["first_step"] > 1 and timing["last_step"] == 20


@pytest.mark.slow
def test_a_kept_run_of_another_model_is_refused(tiny_sweep, mnist_dir, tmp_path):
    folder, _ = tiny_sweep
    copy = tmp_path / "sw"
    shutil.copytree(folder, copy)
    config = copy / "runs" / "optimizer=adam,cell=gru,bidirectional=True-seed2" / "config.json"
    saved = json.loads(config.read_text())
    saved["config"]["num_hidden"] = 16        # as if config.py had num_hidden = 16 back then
    config.write_text(json.dumps(saved))
    r = run_sweep(tmp_path, mnist_dir, "optimizer=gradient_descent,adam",
                  "cell:bidirectional=basic_lstm:False,gru:True", "--seeds", "2")
    assert r.returncode == 2 and r.stderr == (
        f"sweep.py: error: {config.parent} was trained with num_hidden=16, not 8 (was config.py "
        "edited?); give another --sweep_dir\n")


@pytest.mark.slow
def test_a_diverged_run_is_a_result_not_a_failure(tmp_path, mnist_dir):
    r = run_sweep(tmp_path, mnist_dir, "learning_rate=1e38", "--seeds", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].endswith("| ms per step | steps |")   # no speed measured
    assert re.fullmatch(r"\| learning_rate=1e38 \| 1 \(1 diverged\) \| - \| - \| - \| [12] \|",
                        r.stdout.splitlines()[2])
    assert "1 of 1 runs already done" in run_sweep(tmp_path, mnist_dir, "learning_rate=1e38",
                                                   "--seeds", "1").stderr


@pytest.mark.parametrize("grid, message", [
    (["cel=gru"], "unknown config key 'cel' in 'cel=gru'"),
    (["cell=gru,gur"], "--cell must be one of basic_lstm, lstm, gru, basic_rnn, got 'gur'"),
    (["cell:optimizer=gru:adam,lstm"], "'lstm' in 'cell:optimizer=gru:adam,lstm' needs 2 "
                                       "value(s) joined by ':', one for each of cell:optimizer"),
    (["seed=1,2"], "seed can't be swept (use --seeds)"),
    (["cell=gru", "cell=lstm"], "cell is given twice"),
    (["cell"], "'cell' is not key=value,value..."),
    (["cell=gru,gru"], "repeats a value"),
    (["cell=gru", "lstm_impl=fast"], "--lstm_impl=fast is the tutorial's cell read one way"),
    (["num_hidden=8", "--seeds", "0"], "--seeds and --jobs must be at least 1"),
])
def test_bad_grids_stop_before_anything_runs(tmp_path, grid, message, capsys):
    with pytest.raises(SystemExit) as e:
        sweep.main([*grid, "--sweep_dir", str(tmp_path / "sw"), "--", *TINY])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("sweep.py: error: ") and message in err
    assert err.count("\n") == 1 and not (tmp_path / "sw").exists()


def test_train_args_must_not_clash_or_change(tmp_path, mnist_dir):
    r = run_sweep(tmp_path, mnist_dir, "num_hidden=8", train=TINY[:2] + ["--seed=3"])
    assert r.returncode == 2 and "--seed after -- is for single runs" in r.stderr
    r = run_sweep(tmp_path, mnist_dir, "num_hidden=8,16", train=TINY)
    assert r.returncode == 2 and "num_hidden is in the grid and after --" in r.stderr
    (tmp_path / "sw").mkdir()
    (tmp_path / "sw" / "train_args.json").write_text('["--training_steps=99"]')
    r = run_sweep(tmp_path, mnist_dir, "num_hidden=8", train=TINY[:2])
    assert r.returncode == 2 and "holds runs made with --training_steps=99" in r.stderr


@pytest.mark.slow
def test_a_run_killed_before_its_test_accuracy_is_resumed(tiny_sweep, mnist_dir, tmp_path):
    """Its final checkpoint was saved, its accuracy lines never written: not finished."""
    folder, _ = tiny_sweep
    copy = tmp_path / "sw"
    shutil.copytree(folder, copy)
    log = copy / "runs" / "optimizer=adam,cell=gru,bidirectional=True-seed1" / "log.txt"
    whole = log.read_text()
    log.write_text(whole.split("Optimization Finished!")[0])
    r = run_sweep(tmp_path, mnist_dir, "optimizer=gradient_descent,adam",
                  "cell:bidirectional=basic_lstm:False,gru:True", "--seeds", "2")
    assert r.returncode == 0 and "7 of 8 runs already done; running 1" in r.stderr, r.stderr
    assert log.read_text() == whole


@pytest.mark.slow
def test_one_seed_shows_no_spread(tiny_sweep):
    folder, _ = tiny_sweep
    combos = [[("optimizer", "adam"), ("cell", "basic_lstm"), ("bidirectional", "False")]]
    train = json.loads((folder / "train_args.json").read_text())
    one = sweeps.table(sweeps.collect(sweeps.plan_sweep(combos, [1], train, folder)))
    two = sweeps.table(sweeps.collect(sweeps.plan_sweep(combos, [1, 2], train, folder)))
    assert "±" not in one and one.count("|") == two.count("|")
    assert two.splitlines()[2].count("±") == 3


def sweep_children(sweep_dir):
    """The train_rnn.py processes training into `sweep_dir`."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if str(sweep_dir).encode() in f.read() and pid.isdigit():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def ignore_sigint():   # as a shell's background job (cmd &) starts
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.slow
@pytest.mark.parametrize("started", [None, ignore_sigint], ids=["foreground", "sigint ignored"])
def test_sigint_to_sweep_alone_stops_and_checkpoints_its_runs(tmp_path, mnist_dir, started):
    cmd = [sys.executable, os.path.join(ROOT, "sweep.py"), "optimizer=adam,rmsprop", "--seeds=1",
           "--sweep_dir", str(tmp_path / "sw"), "--", f"--data_dir={mnist_dir}",
           "--training_steps=100000", "--display_step=100", "--num_hidden=8", "--batch_size=32",
           "--checkpoint_every=100000"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=ROOT, preexec_fn=started)
    logs = [tmp_path / "sw" / "runs" / f"optimizer={o}-seed1" / "log.txt"
            for o in ("adam", "rmsprop")]
    deadline = time.time() + 120
    while time.time() < deadline and not all(
            l.exists() and "Step 100," in l.read_text() for l in logs):
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)               # the sweep alone, not its process group
    out, err = p.communicate(timeout=180)
    assert p.returncode == 130 and "Traceback" not in err, err
    assert err.splitlines()[-1] == ("sweep.py: interrupted; the runs saved checkpoints, run "
                                    "the same command again to resume")
    assert sweep_children(tmp_path / "sw") == []          # no orphan keeps training
    for log in logs:                                      # each saved where it stopped
        steps = [int(n[5:-6]) for n in os.listdir(log.parent) if n.endswith(".index")]
        assert len(steps) == 1 and 100 <= steps[0] < 100000
        assert not sweeps.finished(str(log.parent))        # the same command resumes it


def test_a_run_that_fails_without_diverging_stops_the_sweep_with_one_line(tmp_path, mnist_dir):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("MNIST is not here")
    r = run_sweep(tmp_path, mnist_dir, "cell=gru", "--seeds", "1",
                  train=[*TINY, f"--data_dir={not_a_folder}"])
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"sweep\.py: error: \S+cell=gru-seed1 failed \(exit 1: .*"
                        r"data_dir.*\); finished runs are kept, run the same command again "
                        r"to resume", last), last
    assert not (tmp_path / "sw" / "results.md").exists()
