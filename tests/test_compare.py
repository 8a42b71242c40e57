"""compare_log.py and make_band.py: the seed band, the verdict, the plot."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lstm_mnist import bands, compare, published, rule, tutorial_log
from lstm_mnist.published import PUBLISHED
from conftest import ROOT

TUTORIAL = os.path.join(ROOT, "reference", "tutorial_output.log")
LR10X = os.path.join(ROOT, "tests", "data", "lr0.01_seed7.log")


def compare_cli(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "compare_log.py"), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def said(stdout):
    """compare_log's output without its '#' lines: the table, then the verdict lines last."""
    return [line for line in stdout.rstrip().splitlines() if not line.startswith("#")]


def test_the_tutorials_log_is_consistent_with_the_band():
    r = compare_cli(TUTORIAL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert said(r.stdout)[-1] == "consistent with the tutorial"
    assert "points outside the band: " in r.stdout


def test_committed_band_comes_from_ten_full_seeds():
    band = bands.read_band(bands.REFERENCE_BAND)
    assert len(band["seeds"]) >= 10
    assert bands.model_config(bands.band_config(band)) == bands.model_config(PUBLISHED)
    assert band["steps"] == [1] + list(range(200, 10001, 200))
    for key in ("loss", "accuracy"):
        for stat in ("mean", "std", "min", "max", "p2.5", "p97.5"):
            assert len(band[key][stat]) == 51
        assert all(lo <= hi for lo, hi in zip(band[key]["p2.5"], band[key]["p97.5"]))
    assert 0.8 < band["test_accuracy"]["mean"] < 0.95
    assert {"tensorflow", "numpy", "python"} <= set(band["versions"]) and band["command"]


def test_a_genuine_default_run_is_consistent():
    r = compare_cli(os.path.join(ROOT, "docs", "readme_run.log"))
    assert r.returncode == 0 and said(r.stdout)[-1] == "consistent with the tutorial"


def test_ten_times_the_learning_rate_is_not_consistent():
    r = compare_cli(LR10X, "--band", bands.REFERENCE_BAND)
    assert r.returncode == 1, r.stdout + r.stderr
    verdict = said(r.stdout)[-1]
    assert verdict.startswith("not consistent: ") and "points outside the band" in verdict
    # the next step: its config is not the band's, so that is expected
    assert r.stdout.rstrip().splitlines()[-1] == (
        "# expected: this run's config differs from the band's (learning_rate=0.01); judge it "
        "by its own config's band: drop --band (or --edition), and compare_log.py finds it or "
        "prints the command that makes it")


def test_against_another_run(tmp_path):
    band_runs = os.path.join(ROOT, "reference", "band_runs")
    a, b = (os.path.join(band_runs, f"seed_{s}.log") for s in (1, 2))
    r = compare_cli(a, "--against", b)
    assert r.returncode == 0 and said(r.stdout)[-1] == "consistent with the other run"
    assert r.stdout.rstrip().splitlines()[-1].startswith(
        "# how sure: at these 51 display steps this rule rejects ")
    assert "pairs of seeds, each pair judged against the rest" in r.stdout
    r = compare_cli(LR10X, "--against", a)
    assert r.returncode == 2 and r.stderr == (
        f"compare_log.py: error: {LR10X} and {a} are runs of different configs (learning_rate="
        "0.01 vs 0.001); --against compares two runs of one config\n")


def test_noise_around_the_lines_is_ignored(tmp_path):
    text = open(TUTORIAL).read().replace(
        "Step 200,", "WARNING:tensorflow:something\n# a comment\nStep 200,")
    noisy = tmp_path / "noisy.log"
    noisy.write_text("2026-01-01 I tensorflow/core/...\n" + text)
    assert compare_cli(str(noisy)).returncode == 0


def without(lines, predicate):
    return "\n".join(l for l in lines if not predicate(l)) + "\n"


@pytest.mark.parametrize("make, message", [
    (lambda lines: "", "the file is empty"),
    (lambda lines: "\n".join(lines[:7]) + "\nStep 200, Minibatch Lo", "it stops at step 1, before any "
     "training shows; let it train to step 200 at least"),
    (lambda lines: without(lines, lambda l: l.startswith("Step 4000,")),
     "step 4000 is missing or out of order"),
    (lambda lines: "\n".join(lines[:20] + lines[19:]) + "\n", "appears more than once"),
    (lambda lines: "hello\nworld\n", "no 'Step N, Minibatch Loss= ...' (or 'Iter N, ...') lines"),
    (lambda lines: os.urandom(4096), "no 'Step N"),
])
def test_unreadable_logs_exit_2(tmp_path, make, message):
    lines = open(TUTORIAL).read().splitlines()
    content = make(lines)
    path = tmp_path / "bad.log"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    r = compare_cli(str(path))
    assert r.returncode == 2, r.stdout
    assert message in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_missing_file_and_mismatched_steps(tmp_path):
    r = compare_cli(str(tmp_path / "nope.log"))
    assert r.returncode == 2 and "cannot read" in r.stderr
    short = tmp_path / "short.log"
    short.write_text("Step 1, Minibatch Loss= 2.5000, Training Accuracy= 0.100\n"
                     "Step 10, Minibatch Loss= 2.4000, Training Accuracy= 0.100\n"
                     "Optimization Finished!\nTesting Accuracy: 0.1\n")
    r = compare_cli(str(short))
    assert r.returncode == 2 and r.stderr == (
        f"compare_log.py: no seed band yet for the config of {short} (training_steps=10, "
        "display_step=10; assumed: no '# seed' line, so the tutorial's config) reaching step 10, "
        "so it can't be judged. Make its band, 10 seeds, with:\n"
        "    python make_band.py --seeds 10 -- --training_steps=10 --display_step=10\n"
        "then run this command again.\n")
    r = compare_cli(str(short), "--band", bands.REFERENCE_BAND)
    assert r.returncode == 2 and r.stderr == (
        f"compare_log.py: error: {short}: its display steps (1..10) share none with the band's "
        "(1..10000 every 200) or the reference's; give a band of its config, or drop --band and "
        "--edition\n")
    # display steps that the band has in part: judged on those
    shared = tmp_path / "every400.log"
    shared.write_text("\n".join(l for l in open(TUTORIAL).read().splitlines()
                                if not l.startswith("Step ") or int(l.split(",")[0][5:]) % 400
                                in (0, 1)) + "\n")
    r = compare_cli(str(shared), "--band", bands.REFERENCE_BAND)
    assert r.returncode == 0 and said(r.stdout)[-1] == (
        "consistent with the tutorial (judged on steps 1..10000: 26 of the band's 51 display "
        "steps)"), r.stdout


def test_a_run_folder_of_another_config_says_what_differs(tmp_path):
    folder = tmp_path / "h64"
    folder.mkdir()
    lines = open(TUTORIAL).read().splitlines()
    (folder / "log.txt").write_text("\n".join(l for l in lines if not l.startswith(
        ("Step 10000", "Step 9800"))) + "\n")
    config = dict(published.PUBLISHED, num_hidden=64, training_steps=9600,
                  seed=3, runs_dir="elsewhere")
    (folder / "config.json").write_text(json.dumps({"config": config, "seed": 3}))
    r = compare_cli(str(folder))
    assert r.returncode == 2, r.stdout
    assert r.stderr == (
        f"compare_log.py: no seed band yet for the config of {folder} (training_steps=9600, "
        "num_hidden=64; its config.json) reaching step 9600, so it can't be judged. Make its "
        "band, 10 seeds, with:\n"
        "    python make_band.py --seeds 10 -- --training_steps=9600 --num_hidden=64\n"
        "then run this command again.\n")
    # a run folder that says how fast it ran: how long the band takes, about
    (folder / "timing.json").write_text(json.dumps({"ms_per_step": 30.0, "cores": 2}))
    minutes = round(30.0 * 2 * 9600 * 10 / len(os.sched_getaffinity(0)) / 60000)
    assert f"Make its band, 10 seeds (about {minutes} min here), with:\n" in \
        compare_cli(str(folder)).stderr


def test_plot_is_a_png(tmp_path):
    out = tmp_path / "cmp.png"
    r = compare_cli(LR10X, "--plot", str(out), "--band", bands.REFERENCE_BAND)
    assert r.returncode == 1 and out.exists()
    head = out.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert (width, height) == (1100, 420)
    assert 20_000 < out.stat().st_size < 500_000
    assert [p for p in os.listdir(tmp_path)] == ["cmp.png"]       # no temp file left


# --- make_band.py -----------------------------------------------------------------------------

def band_cmd(tmp_path, mnist_dir, seeds, jobs=2):
    return [sys.executable, os.path.join(ROOT, "make_band.py"), "--seeds", str(seeds),
            "--jobs", str(jobs), "--out", str(tmp_path / "band.json"),
            "--runs_dir", str(tmp_path / "runs"), "--", "--training_steps=20",
            "--display_step=5", "--num_hidden=16", f"--data_dir={mnist_dir}"]


@pytest.mark.slow
def test_make_band_tiny_and_resume_after_interruption(tmp_path, mnist_dir):
    # interrupt a one-at-a-time run once its first seed is done
    p = subprocess.Popen(band_cmd(tmp_path, mnist_dir, 4, jobs=1), cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    first = tmp_path / "runs" / "seed_1.log"
    deadline = time.time() + 120
    while not first.exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.2)
    assert first.exists()
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    kept = first.stat().st_mtime_ns
    done = sorted(os.listdir(tmp_path / "runs"))
    assert "seed_1.log" in done and "seed_4.log" not in done

    r = subprocess.run(band_cmd(tmp_path, mnist_dir, 4), cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"{len([d for d in done if d.startswith('seed_')])} of 4 seeds already done" in r.stderr
    assert "\r" not in r.stderr and "seed/s" not in r.stderr   # no progress bar off a terminal
    assert first.stat().st_mtime_ns == kept               # not redone
    band = json.loads((tmp_path / "band.json").read_text())
    assert band["steps"] == [1, 5, 10, 15, 20] and band["seeds"] == [1, 2, 3, 4]
    for key in ("loss", "accuracy"):
        assert set(band[key]) == {"mean", "std", "min", "max", "p2.5", "p97.5"}
        for lo, mean, hi in zip(band[key]["min"], band[key]["mean"], band[key]["max"]):
            assert lo <= mean <= hi
    logs = [tutorial_log.read(str(tmp_path / "runs" / f"seed_{s}.log")) for s in range(1, 5)]
    assert band["loss"]["max"][0] == max(log.loss[0] for log in logs)
    assert band["test_accuracy_full"]["mean"] == pytest.approx(
        sum(log.test_accuracy_full for log in logs) / 4, abs=1e-6)
    assert band["seed_values"]["loss"] == [list(log.loss) for log in logs]   # what the rule needs

    # a tiny band's run compares against that band
    r = compare_cli(str(tmp_path / "runs" / "seed_2.log"), "--band", str(tmp_path / "band.json"),
                "--reference", str(tmp_path / "runs" / "seed_1.log"))
    judged = compare.verdict(logs[1], bands.read_band(
        str(tmp_path / "band.json")), band["steps"], name="the band of its config")
    assert r.returncode == (0 if judged.consistent else 1), r.stdout + r.stderr
    assert said(r.stdout)[-len(judged.lines):] == judged.lines
    assert judged.lines[0].startswith(
        f"points outside the band: {(~judged.verdict.inside).sum()} of 10 ")


def test_make_band_refuses_other_args_in_the_same_runs_dir(tmp_path, mnist_dir):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "train_args.json").write_text('["--training_steps=99"]')
    r = subprocess.run(band_cmd(tmp_path, mnist_dir, 2), cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and "holds runs made with --training_steps=99" in r.stderr


def test_statistics_against_numpy():
    import numpy as np
    values = [0.3, 1.7, 0.9, 2.4, 1.1, 0.2, 1.9]
    s = bands.summarize(values)
    assert s["mean"] == pytest.approx(np.mean(values))
    assert s["std"] == pytest.approx(np.std(values, ddof=1))
    assert s["p2.5"] == pytest.approx(np.percentile(values, 2.5))
    assert s["p97.5"] == pytest.approx(np.percentile(values, 97.5))


def test_against_shows_the_difference_rule(tmp_path):
    a = tmp_path / ("a_run_with_a_rather_long_file_name_" * 3 + ".log")
    a.write_text(open(os.path.join(ROOT, "reference", "band_runs", "seed_3.log")).read())
    b = os.path.join(ROOT, "reference", "band_runs", "seed_5.log")
    r = compare_cli(str(a), "--against", b)
    assert r.stdout.splitlines()[:2] == [f"# this run: {a}", f"# other run: {b}"]
    out = said(r.stdout)
    table = out[:out.index("")]
    bars = {tuple(i for i, c in enumerate(line) if c == "|") for line in table if "|" in line}
    assert len(bars) == 1                      # every row's columns line up, whatever the names
    run, other = tutorial_log.read(str(a)), tutorial_log.read(b)
    band = bands.read_band(bands.REFERENCE_BAND)
    judged = compare.verdict(run, band, band["steps"], against=other)
    lines = judged.lines
    allowed = rule.half_widths(bands.seeds_at(band, band["steps"]), pair=True)[0]
    rows = table[3:]
    if any("*" in row for row in rows):   # then a last line says what a star means
        assert rows.pop() == "(* the runs differ there more than two seeds do)"
    for i, row in enumerate(rows):
        cells = row.replace("|", " ").replace("+-", " ").replace("*", " ").split()
        step, loss, acc, oloss, oacc, dloss, dacc, aloss, aacc = cells
        assert int(step) == run.steps[i] and float(loss) == run.loss[i]
        assert float(oloss) == other.loss[i] and float(oacc) == other.accuracy[i]
        assert float(dloss) == pytest.approx(run.loss[i] - other.loss[i], abs=1e-4)
        assert float(aloss) == pytest.approx(allowed[i], abs=1e-4)
        assert ("*" in row.split("|")[3]) == (not judged.verdict.inside[:, i].all())
    assert out[-len(lines):] == lines and len(lines) == 4
    assert lines[0].startswith("points where the runs differ more than two seeds do: ")
    assert "band" not in lines[0]
