"""The users' loop: edit config.py, run, compare. Every edit finds its band or the command that
makes it; a run cut short is judged on its steps; no division in the rule breaks on a band
whose seeds agree."""
import glob
import json
import math
from dataclasses import replace
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, copy_project
from lstm_mnist import bands, compare, rule, tutorial_log
from lstm_mnist.bands import band_from_logs, band_json

TUTORIAL_BAND_RUNS = os.path.join(ROOT, "reference", "band_runs")


def compare_cli(*args, cwd=ROOT, root=ROOT):
    return subprocess.run([sys.executable, os.path.join(root, "compare_log.py"), *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.slow
def test_edited_config_py_run_compare_make_band_compare(tmp_path, mnist_dir):
    """A learner's clone: config.py edited (Adam, a short run); the run's compare names the
    missing band and the command that makes it; that command works; then compare judges."""
    project = copy_project(tmp_path / "project")
    (project / "reference").mkdir()
    for name in ("seed_band.json", "tutorial_output.log"):
        shutil.copy(os.path.join(ROOT, "reference", name), project / "reference")
    text = open(os.path.join(ROOT, "config.py")).read()
    for old, new in (('optimizer = "gradient_descent"', 'optimizer = "adam"'),
                     ("training_steps = 10000", "training_steps = 20"),
                     ("display_step = 200", "display_step = 10"),
                     ("num_hidden = 128", "num_hidden = 8"),
                     ('data_dir = "/tmp/data/"', f'data_dir = "{mnist_dir}"')):
        assert old in text
        text = text.replace(old, new)
    (project / "config.py").write_text(text)

    r = subprocess.run([sys.executable, "train_rnn.py", "--run_name=mine", "--seed=11"],
                       capture_output=True, text=True, timeout=300, cwd=project)
    assert r.returncode == 0, r.stderr
    r = compare_cli("runs/mine", cwd=project, root=project)
    assert r.returncode == 2 and r.stdout == ""
    message = r.stderr.splitlines()
    assert message[0].startswith("compare_log.py: no seed band yet for the config of runs/mine "
                                 "(optimizer=adam, training_steps=20, display_step=10, "
                                 "num_hidden=8; its config.json) reaching step 20, so it can't "
                                 "be judged. Make its band, 10 seeds (about "), message
    assert message[1:] == ["    python make_band.py --seeds 10",
                           "then run this command again."], message
    command = message[1].split()   # pasted as it is
    r = subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True,
                       timeout=600, cwd=project)
    assert r.returncode == 0, r.stderr
    [band_file] = glob.glob(str(project / "bands" / "*_20" / "band.json"))
    band = json.loads(open(band_file).read())
    assert band["config"]["optimizer"] == "adam" and band["reference"] is None
    assert len(band["seeds"]) == 10

    r = compare_cli("runs/mine", "--plot", "mine.png", cwd=project, root=project)
    assert r.returncode in (0, 1), r.stderr
    lines = r.stdout.splitlines()
    assert lines[1] == "# reference: seeds' mean (no log was published for this config)"
    assert lines[2].startswith(f"# band: {os.path.relpath(band_file, project)}, 10 seeds of "
                               "optimizer=adam, training_steps=20")
    assert lines[3] == "# edition of this run: none (a config of its own) (its config.json)"
    assert "seeds' mean" in lines[4]                     # the table says what the reference is
    run = tutorial_log.read(str(project / "runs" / "mine"))
    verdict = compare.verdict(run, band, band["steps"], name="the band of its config").lines
    assert [l for l in lines if not l.startswith("#")][-len(verdict):] == verdict
    assert (project / "mine.png").stat().st_size > 10_000
    # --against: another run of the same config, found with the same band
    r = subprocess.run([sys.executable, "train_rnn.py", "--run_name=again", "--seed=12"],
                       capture_output=True, text=True, timeout=300, cwd=project)
    assert r.returncode == 0, r.stderr
    r = compare_cli("runs/mine", "--against", "runs/again", cwd=project, root=project)
    assert r.returncode in (0, 1) and r.stdout.splitlines()[2].startswith(
        f"# band: {os.path.relpath(band_file, project)}")


def test_a_short_run_trains_and_is_judged_against_the_tutorials_band(tmp_path, mnist_dir):
    """The learner's first loop, short: train 200 steps of the tutorial's config, compare the
    run folder; a genuine run, judged on the steps it has."""
    r = subprocess.run([sys.executable, os.path.join(ROOT, "train_rnn.py"), "--training_steps=200",
                        "--seed=4", f"--runs_dir={tmp_path}", "--run_name=short",
                        f"--data_dir={mnist_dir}"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = compare_cli(str(tmp_path / "short"))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[2].startswith("# band: reference/seed_band.json")
    assert [line for line in lines if not line.startswith("#")][-1] == (
        "consistent with the tutorial (judged on steps 1..200: 2 of the band's 51 display steps)")


def cut_log(path, last_step, tmp_path, finished=True):
    """A band seed's log cut at `last_step`: its repeat command saying so, and (`finished`)
    ended as train_rnn.py ends a run of that many steps."""
    lines = open(path).read().splitlines()
    kept = [lines[0] + f" --training_steps={last_step}"]
    for line in lines[1:]:
        if line.startswith("Step ") and int(line.split(",")[0].split()[1]) > last_step:
            break
        kept.append(line)
    if finished:
        kept += ["Optimization Finished!", "Testing Accuracy: 0.5"]
    out = tmp_path / f"cut{last_step}{'' if finished else '-stopped'}.log"
    out.write_text("\n".join(kept) + "\n")
    return str(out)


@pytest.mark.parametrize("finished", [True, False])
def test_a_tutorial_run_cut_short_is_judged_on_its_steps(tmp_path, finished):
    log = cut_log(os.path.join(TUTORIAL_BAND_RUNS, "seed_4.log"), 4000, tmp_path, finished)
    r = compare_cli(log)
    assert r.returncode == 0, r.stdout + r.stderr
    seeds = len(bands.read_band(bands.REFERENCE_BAND)["seeds"])
    assert f"# band: reference/seed_band.json, {seeds} seeds of the tutorial" in r.stdout
    lines = [line for line in r.stdout.rstrip().splitlines() if not line.startswith("#")]
    assert lines[-2] == ("final test accuracy: not judged (the band's is at step 10000, this "
                         "comparison stops at step 4000)")
    assert lines[-1] == ("consistent with the tutorial (judged on steps 1..4000: 21 of the "
                         "band's 51 display steps)")
    table = [l for l in lines if l[:6].strip().isdigit()]
    assert len(table) == 21


def test_a_cut_short_run_that_differs_is_still_rejected(tmp_path):
    """Ten times the learning rate, cut at 4000 steps, against the tutorial's band."""
    log = cut_log(os.path.join(ROOT, "tests", "data", "lr0.01_seed7.log"), 4000, tmp_path)
    r = compare_cli(log, "--band", bands.REFERENCE_BAND)
    assert r.returncode == 1 and "not consistent: " in r.stdout


def agreeing_logs():
    """Four seeds that print the same accuracy (1.000) and loss from step 20 on: spread 0."""
    logs = []
    for k in range(4):
        logs.append(tutorial_log.Log("step", (1, 10, 20, 30),
                                     (2.3 + 0.01 * k, 1.0 + 0.02 * k, 0.01, 0.01),
                                     (0.1 + 0.01 * k, 0.5 + 0.02 * k, 1.0, 1.0), 0.98, 0.97, None))
    return logs


def test_a_band_whose_seeds_agree_is_judged_with_the_rounding(tmp_path):
    logs = agreeing_logs()
    band = dict(band_from_logs(logs), seeds=[1, 2, 3, 4])
    assert band["accuracy"]["std"][2:] == [0, 0] and band["test_accuracy"]["std"] == 0
    steps = band["steps"]
    seeds = bands.seeds_at(band, steps)
    # the same numbers: consistent, with a finite lead
    run = logs[0]
    assert compare.verdict(run, band, steps).consistent
    assert math.isfinite(rule.lead(run.points(steps), seeds))
    # one printed digit away is inside (the rounding), two are not
    judged = compare.verdict(replace(run, accuracy=(0.1, 0.5, 0.9995, 1.0)), band, steps)
    assert judged.verdict.inside[1, 2]
    judged = compare.verdict(replace(run, accuracy=(0.1, 0.5, 0.998, 1.0)), band, steps)
    assert not judged.verdict.inside[1, 2]
    # against another run, and the final accuracies: no division by the zero spread
    lines = compare.verdict(run, band, steps, against=logs[1]).lines
    numbers = [float(x) for line in lines for x in re.findall(r"[-+]?\d+\.\d+", line)]
    assert numbers and all(map(math.isfinite, numbers))
    # and through the command line, with a band file
    path = tmp_path / "band.json"
    path.write_text(band_json(dict(band, reference=None)))
    log = tmp_path / "run.log"
    log.write_text("".join(f"Step {s}, Minibatch Loss= {l:.4f}, Training Accuracy= {a:.3f}\n"
                           for s, l, a in zip(run.steps, run.loss, run.accuracy))
                   + "Optimization Finished!\nTesting Accuracy: 0.98\n")
    r = compare_cli(str(log), "--band", str(path))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    last = [line for line in r.stdout.splitlines() if not line.startswith("#")][-1]
    assert last == "consistent with this band"   # a band of another config


def test_a_band_of_three_seeds_cannot_judge(tmp_path):
    band = band_from_logs(agreeing_logs()[:3])
    path = tmp_path / "band.json"
    path.write_text(band_json(dict(band, seeds=[1, 2, 3])))
    r = compare_cli(os.path.join(ROOT, "reference", "tutorial_output.log"), "--band", str(path))
    assert r.returncode == 2 and r.stderr == (
        f"compare_log.py: error: {path}: a band needs at least 4 seeds, it has 3; make it again "
        "with python make_band.py --seeds 10\n")


def test_a_diverged_run_is_said_so(tmp_path):
    folder = tmp_path / "diverged"
    folder.mkdir()
    (folder / "log.txt").write_text(
        "# seed 1; repeat this run with: python train_rnn.py --seed=1 --learning_rate=50.0\n"
        "Step 1, Minibatch Loss= 2.5000, Training Accuracy= 0.100\n"
        "# diverged: loss became nan at step 2; lower --learning_rate (now 50.0)\n")
    r = compare_cli(str(folder))
    assert r.returncode == 1 and r.stderr == ""
    assert r.stdout.splitlines()[1] == "not consistent: diverged at step 2 (loss became nan)"
    stdout_log = tmp_path / "stdout.log"   # a saved stdout has the nan line, not the note
    stdout_log.write_text("Step 1, Minibatch Loss= 2.5000, Training Accuracy= 0.100\n"
                          "Step 200, Minibatch Loss= nan, Training Accuracy= 0.098\n")
    r = compare_cli(str(stdout_log))
    assert r.returncode == 1
    assert r.stdout.splitlines()[1] == ("not consistent: diverged at step 200 (the loss became "
                                        "nan)")


@pytest.mark.parametrize("plot", ["missing/out.png", "."])
def test_an_unusable_plot_path_stops_before_judging(tmp_path, plot):
    r = compare_cli(os.path.join(ROOT, "reference", "tutorial_output.log"), "--plot",
                str(tmp_path / plot))
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"compare_log.py: error: --plot {tmp_path / plot}")
    assert "Traceback" not in r.stderr


def test_an_unwritable_plot_folder_stops_before_judging(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK) and os.geteuid() == 0:
        # root writes anywhere: a folder on a read-only mount stands in, when we can make one
        r = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -o bind,ro {folder} {folder} "
                            f"&& {sys.executable} {ROOT}/compare_log.py "
                            f"{ROOT}/reference/tutorial_output.log --plot {folder}/x.png"],
                           capture_output=True, text=True, timeout=120)
        if "mount" in r.stderr or "unshare" in r.stderr:
            pytest.skip(f"no read-only mount here: {r.stderr.strip()}")
    else:
        r = compare_cli(os.path.join(ROOT, "reference", "tutorial_output.log"), "--plot",
                    str(folder / "x.png"))
    assert r.returncode == 2 and r.stdout == ""
    assert "cannot write there (Read-only file system)" in r.stderr
