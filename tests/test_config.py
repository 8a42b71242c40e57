"""config.py as a user interface: every way a learner breaks it ends in one line naming the file,
the line and the fix (exit 2, nothing created); --help shows its comments."""
import os
import subprocess
import sys
import types

import pytest

from lstm_mnist import cli, published, settings
from conftest import ROOT, copy_project

PUBLISHED_TEXT = open(os.path.join(ROOT, "config.py")).read()


def edited(tmp_path, old, new):
    """config.py with `old` replaced by `new`, written to tmp_path/config.py."""
    assert old in PUBLISHED_TEXT
    path = tmp_path / "config.py"
    path.write_text(PUBLISHED_TEXT.replace(old, new, 1))
    return str(path)


def line_of(text):
    return PUBLISHED_TEXT.splitlines().index(next(l for l in PUBLISHED_TEXT.splitlines()
                                                   if l.startswith(text))) + 1


@pytest.mark.parametrize("old, new, message", [
    ("learning_rate = 0.001 ", "learning_rate = 0.001, ",
     "config.py line {lr}: learning_rate = 0.001, is a tuple, (0.001,) (a stray comma?); write "
     "one value: learning_rate = 0.001"),
    ("learning_rate = 0.001 ", 'learning_rate = "0.01" ',
     "config.py line {lr}: learning_rate = \"0.01\" is a string, not a number; write "
     "learning_rate = 0.01"),
    ("learning_rate = 0.001 ", "learning_rate = [0.001, 0.01] ",
     "config.py line {lr}: learning_rate = [0.001, 0.01] is a list, not a number; write one "
     "value: learning_rate = 0.001"),
    ("training_steps = 10000", "training_steps = 2000 steps",
     "config.py line {ts}: syntax error (invalid syntax); a stray word 'steps' after the value? "
     "write training_steps = 2000"),
    ('optimizer = "gradient_descent"', 'optimizer = "adam',
     "config.py line {opt}: syntax error (unterminated string literal (detected at line {opt})); "
     "a quote is missing? write optimizer = \"adam\""),
    ("training_steps = 10000", "training_steps = 500.0",
     "config.py line {ts}: training_steps = 500.0 is a float where an integer belongs; write "
     "training_steps = 500"),
    ("training_steps = 10000", "training_steps = 2.5",
     "config.py line {ts}: training_steps = 2.5 is a float, not an integer; e.g. "
     "training_steps = 10000"),
    ("training_steps = 10000", "training_steps = 10_000 * 2",
     "config.py line {ts}: training_steps = 10_000 * 2 is not a plain value; write a number, a "
     "quoted string, True, False or None, e.g. training_steps = 10000"),
    ("training_steps = 10000  # minibatches to train on\n", "",
     "config.py has no training_steps: add the line training_steps = 10000 (its published "
     "value) back"),
    ("training_steps = 10000", "trainig_steps = 10000",
     "config.py line {ts}: unknown constant trainig_steps (did you mean training_steps?); "
     "known: ..."),
    ("training_steps = 10000", "training_steps == 10000",
     "config.py line {ts}: only constants belong here, one per line as name = value; got "
     "'training_steps == 10000'"),
    ("training_steps = 10000", "training_steps = (10000",
     "config.py line {ts}: syntax error ('(' was never closed); each line is name = "
     "value, e.g. training_steps = 10000"),
    ('cell = "basic_lstm"', "cell = gru",
     "config.py line {cell}: cell = gru is not a plain value; a string needs quotes: "
     "cell = 'gru'"),
    ("learning_rate = 0.001 ", "learning_rate = 0,5 ",
     "config.py line {lr}: learning_rate = 0,5 is a tuple, (0, 5) (a decimal comma?); write "
     "learning_rate = 0.5"),
    ("learning_rate = 0.001 ", "learning_rate = 0,001 ",
     "config.py line {lr}: syntax error (leading zeros in decimal integer literals are not "
     "permitted; use an 0o prefix for octal integers); a decimal comma? write "
     "learning_rate = 0.001"),
    ("training_steps = 10000", "training_steps = 10,000",
     "config.py line {ts}: training_steps = 10,000 is a tuple, (10, 0) (a thousands "
     "separator?); write training_steps = 10000"),
    ("training_steps = 10000", "training_steps = 400,",
     "config.py line {ts}: training_steps = 400, is a tuple, (400,) (a stray comma?); write "
     "one value: training_steps = 400"),
    ("training_steps = 10000", "training_steps = 12,5",
     "config.py line {ts}: training_steps = 12,5 is a tuple, (12, 5) (a stray comma?); write "
     "one value: training_steps = 10000"),
    ('cell = "basic_lstm"', "cell = \u201cgru\u201d",   # pasted from a web page
     "config.py line {cell}: syntax error (invalid character '\u201c' (U+201C)); curly quotes; "
     "write straight ones: cell = \"gru\""),
    ("training_steps = 10000", "  training_steps = 500",
     "config.py line {ts}: syntax error (unexpected indent); start the line at its first "
     "column: training_steps = 500"),
    ("training_steps = 10000", "training_steps = 5 00",
     "config.py line {ts}: syntax error (invalid syntax); each line is name = value, e.g. "
     "training_steps = 10000"),
    ("bidirectional = False", "bidirectional = true",
     "config.py line {bi}: bidirectional = true is not a plain value; Python writes it with a "
     "capital: bidirectional = True"),
    ("seed = None", "seed = none",
     "config.py line {seed}: seed = none is not a plain value; Python writes it with a capital: "
     "seed = None"),
    ("training_steps = 10000", "training_steps = steps",
     "config.py line {ts}: training_steps = steps is not a plain value; write a number, a quoted "
     "string, True, False or None, e.g. training_steps = 10000"),
    ("seed = None", 'seed = "7"', "config.py line {seed}: seed = \"7\" is a string, not an "
     "integer or None; write seed = 7"),
    ("seed = None", "seed = None\ntraining_steps = 5",
     "config.py line {after_seed}: training_steps is set again (first on line {ts}); keep one of "
     "the two lines"),
    ("bidirectional = False", "bidirectional = 0",
     "config.py line {bi}: bidirectional = 0 is an integer, not True or False; write "
     "bidirectional = False"),
    ("bidirectional = False", "bidirectional = 'yes'",
     "config.py line {bi}: bidirectional = 'yes' is a string, not True or False; e.g. "
     "bidirectional = False"),
])
def test_broken_config_py_is_one_line(tmp_path, old, new, message):
    lines = dict(lr=line_of("learning_rate ="), ts=line_of("training_steps ="),
                 opt=line_of("optimizer ="),
                 cell=line_of("cell ="), seed=line_of("seed ="), bi=line_of("bidirectional ="),
                 after_seed=line_of("seed =") + 1)
    path = edited(tmp_path, old, new)
    with pytest.raises(settings.ConfigError) as e:
        settings.read_config_file(path)
    expected = message.format(**lines)
    if expected.endswith("..."):   # the start of the line given
        assert str(e.value).startswith(expected[:-3])
    else:
        assert str(e.value) == expected
    assert "\n" not in str(e.value)


def test_types_come_from_the_published_values(tmp_path):
    path = edited(tmp_path, "learning_rate = 0.001", "learning_rate = 1")
    assert settings.read_config_file(path)["learning_rate"].value == 1.0   # int for float
    path = edited(tmp_path, "seed = None", "seed = 7")
    assert settings.read_config_file(path)["seed"].value == 7
    assert published.kind_of("training_steps") is int
    assert published.kind_of("seed") is int and published.kind_of("momentum") is float


def project_copy(tmp_path, old, new):
    """The project's scripts in tmp_path/project with config.py edited: the learner's clone."""
    project = copy_project(tmp_path / "project")
    edited(project, old, new)
    return project


@pytest.mark.parametrize("old, new, expected", [
    ("learning_rate = 0.001 ", "learning_rate = 0.001, ",
     "train_rnn.py: error: config.py line {lr}: learning_rate = 0.001, is a tuple"),
    ("training_steps = 10000", "training_steps = 500.0",
     "train_rnn.py: error: config.py line {ts}: training_steps = 500.0 is a float where an "
     "integer belongs; write training_steps = 500"),
    ("training_steps = 10000", "training_steps = 0",
     "train_rnn.py: error: config.py line {ts}: training_steps must be a positive integer, "
     "got 0"),
    ('lstm_impl = "basic"', 'lstm_impl = "fastest"',
     "train_rnn.py: error: config.py line {impl}: lstm_impl must be one of basic, fast, fused, got "
     "'fastest' (did you mean fast?)"),
    ("test_len = 128", "test_len = 10001",
     "train_rnn.py: error: config.py line {tl}: test_len must be between 1 and 10000, got 10001"),
])
def test_train_rnn_with_a_broken_config_py_creates_nothing(tmp_path, old, new, expected):
    project = project_copy(tmp_path, old, new)
    lines = dict(lr=line_of("learning_rate ="), ts=line_of("training_steps ="),
                 opt=line_of("optimizer ="),
                 impl=line_of("lstm_impl ="), tl=line_of("test_len ="))
    for argv in ([], ["--resume", str(tmp_path / "runs" / "x")]):
        r = subprocess.run([sys.executable, str(project / "train_rnn.py"),
                            f"--runs_dir={tmp_path}/runs", f"--data_dir={tmp_path}/data", *argv],
                           capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.startswith(expected.format(**lines)), r.stderr
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        assert not os.path.exists(tmp_path / "runs") and not os.path.exists(tmp_path / "data")


def test_the_command_line_names_its_own_option(tmp_path):
    """A bad value given on the command line is named as --key, even with config.py edited."""
    project = project_copy(tmp_path, "training_steps = 10000", "training_steps = 500")
    r = subprocess.run([sys.executable, str(project / "train_rnn.py"), "--test_len=10001"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 2
    assert r.stderr == ("train_rnn.py: error: --test_len must be between 1 and 10000, got "
                        "10001\n")


def test_help_shows_the_comments_of_config_py():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "train_rnn.py"), "--help"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    for key, constant in settings.read_config_file().items():
        assert constant.comment, f"{key} has no comment in config.py"
        assert " ".join(constant.comment.split()) in text, key


def test_did_you_mean_is_not_loose(capsys):
    for arg, suggestion in (("--lr=0.1", None), ("--help_me=1", None),
                            ("--num_hiden=3", "--num_hidden"), ("--sed=3", "--seed")):
        with pytest.raises(SystemExit):
            cli.parse_config([arg])
        err = capsys.readouterr().err
        assert ("did you mean" in err) == bool(suggestion), (arg, err)
        assert suggestion is None or f"did you mean {suggestion}?" in err


@pytest.mark.parametrize("key, value, refused", [
    ("test_len", 10000, None), ("test_len", 1, None), ("test_len", 10001, "between 1 and 10000"),
    ("test_len", 0, "got 0"),
    ("training_steps", 1, None), ("training_steps", 0, "positive integer"),
])
def test_the_ranges_hold_at_their_boundaries(key, value, refused):
    cfg = types.SimpleNamespace(**dict(published.PUBLISHED, **{key: value}))
    problem = settings.problem_in(cfg)
    if refused is None:
        assert problem is None, problem.text()
    else:
        assert problem.key == key and refused in problem.text()


@pytest.mark.parametrize("line", ["training_steps = True", "training_steps = False"])
def test_a_bool_is_no_step_count(tmp_path, line):
    """True is an int to Python (1 step): config.py must still refuse it."""
    with pytest.raises(settings.ConfigError) as e:
        settings.read_config_file(edited(tmp_path, "training_steps = 10000", line))
    assert "training_steps" in str(e.value) and "\n" not in str(e.value)
