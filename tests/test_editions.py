"""The tutorial's published editions: each a file of constants over config.py (editions/*.py),
its log format, its committed seed band, and the rule telling the editions apart."""
import dataclasses
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import types

import pytest

from lstm_mnist import bands, cli, compare, published, rule, runs, settings, tutorial_log
import data
import train_rnn
from conftest import ROOT
from lstm_mnist.bands import band_from_logs, band_json, error_rates as rule_error_rates
from lstm_mnist.evidence import editions_table, separation_table

JANUARY = "recurrent_network_2017_01"
NEW_EDITIONS = [JANUARY, "bidirectional_rnn_2017_08", "bidirectional_rnn_2017_01"]
ITER_LINE = re.compile(r"^Iter \d+, Minibatch Loss= \d+\.\d{6}, Training Accuracy= \d\.\d{5}$")


def parse(*argv):
    return cli.parse_config(list(argv), cli.config_parser(editions=True))


def edition_logs(name):
    """The committed seeds of an edition's band: (seeds, parsed logs), in seed order."""
    runs_dir = bands.edition_band(name)[1]
    seeds = sorted(int(re.search(r"seed_(\d+)\.log", p)[1])
                   for p in glob.glob(os.path.join(runs_dir, "seed_*.log")))
    batch = bands.edition_config(name)["batch_size"]
    return seeds, [tutorial_log.read(os.path.join(runs_dir, f"seed_{s}.log"), batch_size=batch)
                   for s in seeds]


def compare_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, os.path.join(ROOT, "compare_log.py"), *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


# ---------------------------------------------------------------------------------------------
# Edition files: config.py, then the edition, then the command line

def test_an_edition_applies_over_config_py_and_under_the_command_line():
    cfg, args = parse(f"editions/{JANUARY}.py")
    assert (cfg.optimizer, cfg.training_steps, cfg.display_step, cfg.log_format) == \
        ("adam", 781, 10, "iter")
    assert cfg.learning_rate == 0.001 and not cfg.bidirectional   # config.py's
    assert args.edition == f"editions/{JANUARY}.py"
    cfg, args = parse(JANUARY, "--display_step=5")   # by name; the command line wins
    assert (cfg.display_step, cfg.optimizer, args.edition) == (5, "adam", f"editions/{JANUARY}.py")
    assert 781 * 128 < 100000 <= 782 * 128   # training_iters = 100000: steps 1..781
    cfg, args = parse("editions/recurrent_network_2017_08.py")   # the tutorial: config.py itself
    assert vars(cfg) == vars(parse()[0])


def test_each_edition_is_its_own_model():
    configs = {name: bands.edition_config(name) for name in bands.editions()}
    assert list(configs)[0] == bands.TUTORIAL_EDITION and set(NEW_EDITIONS) < set(configs)
    assert len({bands.config_hash(c) for c in configs.values()}) == len(configs)
    for name, cfg in configs.items():
        assert bands.edition_of(cfg) == name
        assert bands.edition_of(dict(cfg, training_steps=40)) == name   # any length
    assert bands.edition_of(dict(published.PUBLISHED, num_hidden=64)) is None
    # a constant added later (log_format) leaves the names of older bands as they were
    assert bands.config_hash(dict(published.PUBLISHED, optimizer="adam")) == "935a47179f"


@pytest.mark.parametrize("text, message", [
    ("display_step = 0\n", "{f} line 1: display_step must be a positive integer, got 0"),
    ("x = 1\nlearning_rate = 0.001,\n", "{f} line 1: unknown constant x"),
    ("learning_rate = 0.001,\n", "{f} line 1: learning_rate = 0.001, is a tuple, (0.001,) (a "
     "stray comma?); write one value: learning_rate = 0.001"),
    ('log_format = "Iter"\n', "{f} line 1: log_format must be one of step, iter, got 'Iter' "
     "(did you mean iter?)"),
    ("optimizer = 'adam'\noptimizer = 'sgd'\n", "{f} line 2: optimizer is set again (first on "
     "line 1); keep one of the two lines"),
    ("bidirectional = True\nlstm_impl = 'fast'\n", "{f} line 2: lstm_impl=fast is the tutorial's "
     "cell read one way"),
])
def test_a_broken_edition_file_is_one_line_naming_its_line(tmp_path, capsys, text, message):
    path = tmp_path / "mine.py"
    path.write_text(text)
    with pytest.raises(SystemExit) as e:
        parse(str(path))
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith(
        "train_rnn.py: error: " + message.format(f=path)), err
    assert err.count("\n") == 1


def test_edition_argument_mistakes_are_one_line(tmp_path, capsys):
    for argv, message in [
            (["nope.py"], "no edition file nope.py; give a file of constants like config.py's, "
                          "or one of: editions/bidirectional_rnn_2017_01.py, "),
            ([JANUARY, "bidirectional_rnn_2017_08"], "one edition file at most, got "
                                                     "bidirectional_rnn_2017_08 too")]:
        with pytest.raises(SystemExit) as e:
            parse(*argv)
        err = capsys.readouterr().err
        assert e.value.code == 2 and err.startswith("train_rnn.py: error: " + message), err
    # the command line's value is named as the command line's, even over an edition
    with pytest.raises(SystemExit):
        parse(JANUARY, "--display_step=0")
    assert capsys.readouterr().err == ("train_rnn.py: error: --display_step must be a positive "
                                       "integer, got 0\n")


def test_repeat_command_names_the_edition_and_reads_back():
    cfg, args = parse(JANUARY, "--num_hidden=64")
    command = settings.repeat_command(cfg, 7, args.edition)
    assert command == (f"python train_rnn.py editions/{JANUARY}.py --seed=7 --num_hidden=64")
    assert bands.model_config(bands.command_config(command)) == bands.model_config(vars(cfg))


# ---------------------------------------------------------------------------------------------
# The January 2017 log format

def test_iter_logs_are_read_in_training_steps():
    log = tutorial_log.read(bands.published_log(JANUARY))
    assert log.format == "iter" and log.steps == tuple(range(10, 781, 10))
    assert (log.loss[0], log.accuracy[0], log.test_accuracy) == \
        (1.576423, 0.51562, 0.960938)
    lines = open(bands.published_log(JANUARY)).read().splitlines()
    for text, message in [
            (lines[:2] + ["Iter 1300, Minibatch Loss= 1.0, Training Accuracy= 0.5"],
             "'Iter 1300' is not a multiple of the batch size 128"),
            (lines[:2] + [lines[3]], "steps don't follow 10, 20, 30, ...: step 30 is missing"),
            (lines[:2] + ["Step 200, Minibatch Loss= 2.1900, Training Accuracy= 0.211"],
             "it has both 'Step' and 'Iter' lines")]:
        with pytest.raises(tutorial_log.LogError, match=re.escape(message)):
            tutorial_log.parse("\n".join(text), complete=False)


@pytest.mark.slow
@pytest.mark.parametrize("name, steps", [(JANUARY, 20), ("bidirectional_rnn_2017_01", 20),
                                         ("bidirectional_rnn_2017_08", 200)])
def test_each_editions_committed_seed_starts_as_todays_code_prints(mnist_dir, name, steps):
    """The first two display lines of a committed band seed, byte for byte."""
    seed = 3
    cfg = types.SimpleNamespace(**dict(bands.edition_config(name), training_steps=steps))
    mnist = data.read_data_sets(mnist_dir, seed=seed, mirrors=())
    printed = []
    train_rnn.train(cfg, seed, mnist, runs.Run(cfg, log=printed.append))
    text = open(os.path.join(bands.edition_band(name)[1], f"seed_{seed}.log")).read()
    kind = "Iter " if cfg.log_format == "iter" else "Step "
    committed = [line for line in text.splitlines() if line.startswith(kind)]
    assert [line for line in printed if line.startswith(kind)] == committed[:2]
    if kind == "Iter ":   # the January format, to the digit
        assert len(committed) == 78 and all(ITER_LINE.match(line) for line in committed)


@pytest.mark.slow
def test_the_january_edition_runs_and_compares_against_its_band(tmp_path, mnist_dir):
    r = subprocess.run([sys.executable, "train_rnn.py", f"editions/{JANUARY}.py", "--seed=3",
                        "--training_steps=40", f"--runs_dir={tmp_path}", "--run_name=jan",
                        f"--data_dir={mnist_dir}"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == (f"# seed 3; repeat this run with: python train_rnn.py editions/{JANUARY}.py"
                        f" --seed=3 --training_steps=40 --data_dir={mnist_dir}")
    assert [line.split(",")[0] for line in lines[1:5]] == ["Iter 1280", "Iter 2560", "Iter 3840",
                                                          "Iter 5120"]
    assert all(ITER_LINE.match(line) for line in lines[1:5])
    assert lines[5:7] == ["Optimization Finished!", lines[6]] and lines[6].startswith(
        "Testing Accuracy: ")
    saved = json.load(open(tmp_path / "jan" / "config.json"))
    assert (saved["edition"], saved["edition_file"]) == (JANUARY, f"editions/{JANUARY}.py")

    r = compare_cli(str(tmp_path / "jan"))
    out = r.stdout.splitlines()
    assert out[1] == (f"# reference: {JANUARY} as published "
                      f"(reference/editions/{JANUARY}.log)")
    seeds = len(bands.read_band(bands.edition_band(JANUARY)[0])["seeds"])
    assert out[2] == (f"# band: reference/editions/{JANUARY}/band.json, {seeds} seeds of "
                      f"edition {JANUARY} (optimizer=adam, training_steps=781, display_step=10, "
                      "log_format=iter)")
    assert out[3] == f"# edition of this run: {JANUARY} (its config.json)"
    verdict = [line for line in out if not line.startswith("#")][-1]
    assert verdict.endswith("(judged on steps 10..40: 4 of the band's 78 display steps)")
    assert r.returncode == (0 if verdict.startswith(f"consistent with the {JANUARY} edition")
                            else 1)
    assert out[-1].startswith("# how sure: at these 4 display steps this rule rejects ")


@pytest.mark.slow
def test_resume_keeps_the_edition_cuts_iter_lines_and_refuses_another(tmp_path, mnist_dir):
    common = [f"--runs_dir={tmp_path}", f"--data_dir={mnist_dir}", "--checkpoint_every=10",
              "--seed=1"]
    for name, steps in (("r", 30), ("whole", 40)):
        whole = subprocess.run([sys.executable, "train_rnn.py", JANUARY, f"--run_name={name}",
                                f"--training_steps={steps}", *common],
                               capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert whole.returncode == 0, whole.stderr
    r = subprocess.run([sys.executable, "train_rnn.py", JANUARY, f"--resume={tmp_path}/r"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 1 and r.stderr == (
        f"train_rnn.py: error: {tmp_path}/r resumes with the config it was started with; drop "
        f"editions/{JANUARY}.py (an edition file starts a new run)\n")
    # the newest checkpoint unreadable: resumed from step 20, the log cut after Iter 2560
    data_file = tmp_path / "r" / "ckpt-30.data-00000-of-00001"
    data_file.write_bytes(data_file.read_bytes()[:100])
    r = subprocess.run([sys.executable, "train_rnn.py", f"--resume={tmp_path}/r",
                        "--training_steps=40"], capture_output=True, text=True, timeout=300,
                       cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert f"# resuming {tmp_path}/r from step 20" in r.stderr
    assert r.stdout.splitlines()[0].startswith("Iter 3840, ")
    iters = [l for l in (tmp_path / "r" / "log.txt").read_text().splitlines() if l[0] != "#"]
    assert iters == [l for l in whole.stdout.splitlines() if l[0] != "#"]
    assert [l.split(",")[0] for l in iters[:4]] == ["Iter 1280", "Iter 2560", "Iter 3840",
                                                    "Iter 5120"]
    saved = json.load(open(tmp_path / "r" / "config.json"))
    assert saved["edition"] == JANUARY and saved["command"].startswith(
        f"python train_rnn.py editions/{JANUARY}.py --seed=1 ")


# ---------------------------------------------------------------------------------------------
# The evidence: each edition's committed band, its published log, and the rule between them

@pytest.mark.parametrize("name", NEW_EDITIONS)
def test_each_editions_band_file_is_made_from_its_committed_logs(name):
    band_file, _ = bands.edition_band(name)
    committed = json.loads(band_json(bands.read_band(band_file)))
    seeds, logs = edition_logs(name)
    rebuilt = json.loads(band_json(band_from_logs(logs)))
    for key in ("steps", "format", "loss", "accuracy", "test_accuracy", "test_accuracy_full",
                "seed_values"):
        assert rebuilt[key] == committed[key], key
    assert committed["seeds"] == seeds and len(seeds) >= 20
    assert committed["edition"] == name
    assert bands.config_hash(bands.band_config(committed)) == \
        bands.config_hash(bands.edition_config(name))
    assert committed["reference"] == (bands.published_log(name) and
                                      os.path.relpath(bands.published_log(name), ROOT))
    rates = rule_error_rates(committed)
    assert json.loads(band_json({"error_rates": rates}))["error_rates"] == committed["error_rates"]
    assert rates["single_run_rejected"] <= 0.05 and rates["pairs_rejected"] <= 0.05


@pytest.mark.parametrize("log, edition, consistent", [
    # each published log, consistent with its own edition's band ...
    (f"reference/editions/{JANUARY}.log", None, True),           # Iter lines: January found
    ("reference/editions/bidirectional_rnn_2017_08.log", "bidirectional_rnn_2017_08", True),
    ("reference/tutorial_output.log", None, True),
    # ... and rejected by the band of an edition with another optimizer
    (f"reference/editions/{JANUARY}.log", "recurrent_network_2017_08", False),
    (f"reference/editions/{JANUARY}.log", "bidirectional_rnn_2017_08", False),
    ("reference/tutorial_output.log", JANUARY, False),
    ("reference/tutorial_output.log", "bidirectional_rnn_2017_01", False),
    ("reference/editions/bidirectional_rnn_2017_08.log", JANUARY, False),
    ("reference/editions/bidirectional_rnn_2017_08.log", "bidirectional_rnn_2017_01", False),
])
def test_published_logs_are_judged_by_their_edition(log, edition, consistent):
    r = compare_cli(log, *(["--edition", edition] if edition else []))
    assert r.returncode == (0 if consistent else 1), r.stdout + r.stderr
    last = [line for line in r.stdout.splitlines() if not line.startswith("#")][-1]
    assert last.startswith("consistent with" if consistent else "not consistent: ")


def test_the_readmes_editions_tables_come_from_the_committed_bands():
    made, logs = {}, {}
    for name in bands.editions():
        made[name] = bands.read_band(bands.edition_band(name)[0])
        logs[name] = edition_logs(name)[1]
    readme = open(os.path.join(ROOT, "README.md")).read()
    assert editions_table(made) in readme
    assert separation_table(made, logs) in readme


@pytest.mark.slow
def test_make_band_all_editions_rebuilds_every_band_from_its_runs(tmp_path):
    """In a copy of the project: nothing to run (every seed is committed), the same band files
    byte for byte, and the README's tables printed."""
    project = tmp_path / "project"
    def ignore(folder, names):   # the project's own runs and bands, not reference/'s
        top = {".git", ".venv", "runs", "bands", "docs"} if folder == ROOT else set()
        return [n for n in names if n in top or n == "__pycache__"]
    shutil.copytree(ROOT, project, ignore=ignore)
    r = subprocess.run([sys.executable, "make_band.py", "--all-editions"], capture_output=True,
                       text=True, timeout=600, cwd=project)
    assert r.returncode == 0, r.stderr
    for name in bands.editions():
        band_file = bands.edition_band(name)[0]
        copy = project / os.path.relpath(band_file, ROOT)
        assert copy.read_text() == open(band_file).read(), name
    assert r.stderr.count("seeds already done, running 0 in") == len(bands.editions())
    readme = open(os.path.join(ROOT, "README.md")).read()
    tables = r.stdout.strip().split("\n\n")
    assert len(tables) == 2 and all(table in readme for table in tables)


def test_make_band_refuses_a_runs_dir_of_another_config(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "seed_1.log").write_text(
        "# seed 1; repeat this run with: python train_rnn.py --seed=1 --optimizer=adam\n")
    r = subprocess.run([sys.executable, "make_band.py", f"editions/{JANUARY}.py", "--seeds=2",
                        f"--out={tmp_path}/band.json"], capture_output=True, text=True,
                       timeout=120, cwd=ROOT)
    assert r.returncode == 2 and r.stderr.endswith(
        f"make_band.py: error: {tmp_path}/runs holds runs of another config (training_steps="
        "10000, display_step=200, log_format=step); use another --runs_dir\n"), r.stderr


def test_how_sure_the_verdict_is_and_a_caution_for_a_band_that_fails_its_own_seeds():
    """After each verdict, how often the rule rejects the band's own seeds at the judged steps;
    more than 5% of them: a caution, and a command (pasteable) that makes a better band."""
    tutorial = bands.read_band(bands.REFERENCE_BAND)
    steps = tutorial["steps"][:3]
    line = compare.how_sure(tutorial, steps, final=False)
    rates = rule.error_rates(bands.seeds_at(tutorial, steps, final=False), pairs=False)
    n = len(tutorial["seeds"])
    assert line == (f"# how sure: at these 3 display steps this rule rejects {len(rates.single)} "
                    f"of its {n} seeds, each judged against the others (so few can't rule out "
                    f"a rate of {rule.upper_bound(len(rates.single), n):.0%} for genuine runs)")
    # a band of 5 seeds, one of which got half the test images wrong
    logs = edition_logs(JANUARY)[1][:5]
    logs[4] = dataclasses.replace(logs[4], test_accuracy=0.5)
    weak = dict(band_from_logs(logs), seeds=[1, 2, 3, 4, 5], train_args=[
        f"editions/{JANUARY}.py", "--learning_rate=0.002"], config=bands.model_config(
        dict(bands.edition_config(JANUARY), learning_rate=0.002)))
    line = compare.how_sure(weak, weak["steps"], final=True)
    assert line.endswith(". Caution: a verdict against this band is weak evidence; more seeds "
                         "make a band that judges better: python make_band.py "
                         f"editions/{JANUARY}.py --seeds 20 -- --learning_rate=0.002"), line
