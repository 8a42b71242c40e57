"""The constants of config.py as a checked command line: `--key=value` overrides any of them.

    cfg, args = parse_config(["--training_steps=500", "--seed=3"])   # cfg.training_steps == 500
    cfg, args = parse_config(["editions/recurrent_network_2017_01.py"],
                             config_parser(editions=True))            # cfg.optimizer == "adam"

config.py is read as data, never run: each line `name = value` with a plain value of the type
its published value has (PUBLISHED). An edition file (editions/*.py, or any file of such lines)
holds some of the constants and applies over config.py; the command line applies over both.
Only known keys are accepted, from the files and from the command line, each checked against
its range; anything else stops with one line naming the key, where it came from (`--key`, or
`config.py line N`, or the edition file's line) and the fix, exit status 2. Used by
train_rnn.py, make_band.py, sweep.py, predict.py and bench.py.
"""
import argparse
import ast
import difflib
import functools
import io
import math
import os
import re
import shlex
import sys
import tokenize
import types

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG_FILE = os.path.join(HERE, "config.py")
EDITIONS_DIR = os.path.join(HERE, "editions")   # one file per published edition of the tutorial
MNIST_PIXELS = 784
MNIST_TRAIN = 60000
MNIST_TEST = 10000

# config.py as published. Each constant's type comes from here, not from the edited file; the
# repeat command lists what differs from these, so that it repeats the run whatever config.py
# holds later.
PUBLISHED = dict(learning_rate=0.001, optimizer="gradient_descent", momentum=0.9,
                 training_steps=10000, batch_size=128, display_step=200, num_input=28,
                 timesteps=28, num_hidden=128, num_classes=10, cell="basic_lstm",
                 bidirectional=False, lstm_impl="basic", log_format="step",
                 test_len=128, data_dir="/tmp/data/", validation_size=5000, runs_dir="runs",
                 checkpoint_every=1000, keep_checkpoints=3, seed=None)


class ConfigError(Exception):
    """config.py can't be used; the message names its line and the fix."""


def kind_of(key):
    """The type a constant takes: bool, int, float or str (seed: an int or None)."""
    value = PUBLISHED[key]
    return int if value is None else type(value)


def config_defaults():
    """The constants of config.py, checked, as a dict. A broken config.py ends the program with
    one line naming its line and the fix, exit status 2 (see read_config_file)."""
    try:
        return {k: c.value for k, c in read_config_file().items()}
    except ConfigError as e:
        print(f"{os.path.basename(sys.argv[0]) or 'python'}: error: {e}", file=sys.stderr)
        sys.exit(2)


def read_config_file(path=CONFIG_FILE, partial=False):
    """config.py, read as data (never run): {key: namespace(value, line, comment)}.

    Each constant must be `name = value` with a plain value (a number, a quoted string, True,
    False or None) of its published type; an int may stand where a float belongs. `partial`:
    an edition file, which holds only the constants it changes.

    Raises:
        ConfigError: a syntax error, a statement that is not a constant, a value of the wrong
        type (a stray comma's tuple, a float where an int belongs, a quoted number), an unknown
        name, a missing constant (not `partial`); the message names the file and line.
    """
    name = shown_path(path) if partial else os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {name} ({getattr(e, 'strerror', None) or e.reason}); "
                          + ("give a readable file of constants" if partial else
                             "restore it with: git checkout config.py")) from None
    return _read_config(source, name, partial)


def shown_path(path):
    """How a file of constants is named in messages and commands: relative to the project
    (config.py, editions/recurrent_network_2017_01.py) when it lies in it, else absolute."""
    path = os.path.abspath(path)
    inside = os.path.commonpath([path, HERE]) == HERE
    return os.path.relpath(path, HERE) if inside else path


def find_edition(text):
    """The edition file that `text` names: a path, or an edition's name (recurrent_network_2017_01)
    from editions/; its shown_path. ConfigError, listing the editions, when there is none."""
    for path in (text, os.path.join(HERE, text), os.path.join(EDITIONS_DIR, text),
                 os.path.join(EDITIONS_DIR, text + ".py")):
        if os.path.isfile(path):
            return shown_path(path)
    known = ", ".join(f"editions/{n}" for n in sorted(os.listdir(EDITIONS_DIR))
                      if n.endswith(".py")) if os.path.isdir(EDITIONS_DIR) else "none"
    raise ConfigError(f"no edition file {text}; give a file of constants like config.py's, "
                      f"or one of: {known}")


def edition_name(path):
    """An edition's name (the file's stem) for a file in editions/, else its shown path."""
    path = shown_path(path)
    folder, file = os.path.split(path)
    return file[:-3] if folder == "editions" and file.endswith(".py") else path


def edition_config(path, base=None):
    """`base` (default: the published constants) with an edition file's constants over it."""
    constants = read_config_file(os.path.join(HERE, path), partial=True)
    return dict(base or PUBLISHED, **{k: c.value for k, c in constants.items()})


@functools.lru_cache(maxsize=16)
def _read_config(source, name, partial=False):
    try:
        tree = ast.parse(source, name)
    except SyntaxError as e:
        raise ConfigError(f"{name} line {e.lineno}: syntax error ({e.msg}); "
                          f"{_syntax_fix(source, e.lineno)}") from None
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT}
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue   # the docstring
        where = f"{name} line {node.lineno}"
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            raise ConfigError(f"{where}: only constants belong here, one per line as "
                              f"name = value; got {ast.get_source_segment(source, node)!r}")
        key = node.targets[0].id
        if key.startswith("_"):
            continue
        if key not in PUBLISHED:
            close = difflib.get_close_matches(key, PUBLISHED, n=1, cutoff=0.75)
            raise ConfigError(f"{where}: unknown constant {key}"
                              + (f" (did you mean {close[0]}?)" if close else "")
                              + f"; known: {', '.join(PUBLISHED)}")
        if key in found:
            raise ConfigError(f"{where}: {key} is set again (first on line {found[key].line}); "
                              "keep one of the two lines")
        text = ast.get_source_segment(source, node.value)
        value = _constant(key, node.value, text, where)
        found[key] = types.SimpleNamespace(value=value, line=node.lineno,
                                           comment=comments.get(node.lineno, ""))
    missing = [k for k in PUBLISHED if k not in found]
    if missing and not partial:
        key = missing[0]
        raise ConfigError(f"{name} has no {key}: add the line {key} = {PUBLISHED[key]!r} "
                          "(its published value) back")
    return found


def _syntax_fix(source, lineno):
    """The likely fix for a line of config.py that Python can't parse."""
    lines = source.splitlines()
    line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
    key = re.match(r"\s*(\w+)\s*=", line)
    key = key.group(1) if key else None
    code = line.split("#")[0].strip()   # without its comment
    if any(q in code for q in "\u201c\u201d\u2018\u2019"):   # pasted from a web page
        fixed = code.translate(str.maketrans("\u201c\u201d\u2018\u2019", "\"\"''"))
        return f"curly quotes; write straight ones: {fixed}"
    if key in PUBLISHED and "," in code:                       # 0,001: leading zeros
        meant, why = _number_meant(code.partition("=")[2], kind_of(key))
        if meant:
            return f"{why} write {key} = {meant}"
    if line[:1].isspace() and key:
        return f"start the line at its first column: {code}"
    example = f"{key} = {PUBLISHED[key]!r}" if key in PUBLISHED else "learning_rate = 0.001"
    return f"each line is name = value, e.g. {example}"


def _constant(key, node, text, where):
    """The value of `key = text` in config.py, of the key's published type, or ConfigError."""
    kind, published = kind_of(key), PUBLISHED[key]
    example = f"{key} = {published!r}" if published is not None else f"{key} = 7 (or None)"
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        name = node.id if isinstance(node, ast.Name) else None   # a bare word: the likely fixes
        if name and name.lower() in ("true", "false", "none"):
            fix = f"Python writes it with a capital: {key} = {name.capitalize()}"
        elif name and kind is str:
            fix = f"a string needs quotes: {key} = {name!r}"
        else:
            fix = f"write a number, a quoted string, True, False or None, e.g. {example}"
        raise ConfigError(f"{where}: {key} = {text} is not a plain value; {fix}") from None
    if isinstance(value, tuple):
        meant, why = _number_meant(text, kind)   # 0,5 or 10,000; else a stray comma
        if not meant and len(value) == 1 and fits(key, value[0]):   # 400, -> 400
            example = f"{key} = {value[0]!r}"
        fix = f"write {key} = {meant}" if meant else f"write one value: {example}"
        raise ConfigError(f"{where}: {key} = {text} is a tuple, {value!r} "
                          f"({why or 'a stray comma?'}); {fix}")
    if kind is int and isinstance(value, float) and value.is_integer():
        raise ConfigError(f"{where}: {key} = {text} is a float where an integer belongs; "
                          f"write {key} = {int(value)}")
    ok = fits(key, value)
    if not ok:
        what = {bool: "True or False", float: "a number", str: "a string in quotes",
                int: "an integer" + (" or None" if published is None else "")}[kind]
        raise ConfigError(f"{where}: {key} = {text} is {type(value).__name__}, not {what}; "
                          f"e.g. {example}")
    return float(value) if kind is float else value


def fits(key, value):
    """Whether `value` has the type of `key`'s published value (an int may stand for a float;
    seed may be None)."""
    kind = kind_of(key)
    if value is None:
        return PUBLISHED[key] is None
    if isinstance(value, bool):   # an int too, to isinstance
        return kind is bool
    return isinstance(value, kind) or kind is float and isinstance(value, int)


def convert(key, text):
    """A command-line value `text` of `key` as its published type (ValueError if it is not)."""
    kind = kind_of(key)
    try:
        return text if kind is str else _typed(kind, PUBLISHED[key] is None)(text)
    except argparse.ArgumentTypeError as e:
        raise ValueError(f"--{key}: {e}") from None


class _ArgParser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2: no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def _typed(kind, optional):
    def convert(text):
        if optional and text.lower() == "none":
            return None
        if kind is bool:
            if text.lower() in ("true", "1", "false", "0"):
                return text.lower() in ("true", "1")
            raise argparse.ArgumentTypeError(f"expects True or False, got {text!r}")
        try:
            return float(text) if kind is float else int(text)
        except ValueError:
            meant, _ = _number_meant(text, kind)
            raise argparse.ArgumentTypeError(
                f"expects {'a number' if kind is float else 'an integer'}"
                f"{' or None' if optional else ''}, got {text!r}"
                + (f"; write {meant}" if meant else "")) from None
    convert.__name__ = kind.__name__
    return convert


def _number_meant(text, kind):
    """The number that a value Python reads as something else likely meant, and why: 0,5 -> 0.5
    (a decimal comma), 10,000 -> 10000 (a thousands separator), 1e3 -> 1000 where an integer
    belongs; (None, None) if none."""
    text = text.replace(" ", "")
    if kind is float and re.fullmatch(r"\d+,\d+", text):
        return text.replace(",", "."), "a decimal comma?"
    if kind is int and re.fullmatch(r"\d{1,3}(,\d{3})+", text):
        return text.replace(",", ""), "a thousands separator?"
    try:
        value = float(text)
    except ValueError:
        return None, None
    if kind is int and value.is_integer():
        return str(int(value)), "a float where an integer belongs"
    return None, None


def config_parser(prog="train_rnn.py", description=None, choices=None, editions=False):
    """An argparse parser with one --key option per constant of config.py; its help is the
    constant's comment in config.py.

    `choices`: {key: the names that key allows}, such as train_rnn.CHOICES; parse_config checks
    them, whether they come from the command line or from config.py. `editions`: also take an
    edition file (the positional argument `edition`) to apply over config.py.
    """
    parser = _ArgParser(prog=prog, description=description, allow_abbrev=False,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.config_choices = choices or {}
    config_defaults()   # a broken config.py stops here, with its line
    for key, constant in read_config_file().items():
        kind = kind_of(key)
        names = (choices or {}).get(key)
        parser.add_argument(f"--{key}", type=str if kind is str else
                            _typed(kind, optional=PUBLISHED[key] is None),
                            default=constant.value, metavar=kind.__name__.upper(),
                            help=f"{constant.comment} (default: {constant.value!r}"
                                 + (f"; one of: {', '.join(names)})" if names else ")"))
    if editions:
        parser.add_argument("edition", nargs="?", metavar="EDITION", help="a file of constants "
                            "applied over config.py: one of editions/*.py (each a published "
                            "edition of the tutorial), or a name from there")
    return parser


def parse_config(argv, parser=None):
    """Command line -> (config namespace, all parsed args). Exits 2 with one line on bad input,
    whether it came from the command line or from config.py.

    `args.explicit` holds the config keys the command line gave; `args.edition` the edition file
    (its shown_path) or None.
    """
    parser = parser or config_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not unknown[0].startswith("-"):
        parser.error(f"one edition file at most, got {unknown[0]} too"
                     if getattr(args, "edition", None) else f"unexpected argument {unknown[0]}; "
                     "constants are given as --key=value")
    if unknown:
        key = unknown[0].split("=")[0]
        options = [f"--{k}" for k in PUBLISHED]
        close = difflib.get_close_matches(key, options, n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        parser.error(f"unknown config key {key}{hint}; known keys: {', '.join(PUBLISHED)}")
    cfg = types.SimpleNamespace(**{k: getattr(args, k) for k in PUBLISHED})
    args.explicit = {k for k in PUBLISHED
                     if any(a == f"--{k}" or a.startswith(f"--{k}=") for a in argv)}
    args.edition = getattr(args, "edition", None)
    edition = {}
    if args.edition:   # its constants over config.py's, under the command line's
        try:
            args.edition = find_edition(args.edition)
            edition = read_config_file(os.path.join(HERE, args.edition), partial=True)
        except ConfigError as e:
            parser.error(str(e))
        for key, constant in edition.items():
            if key not in args.explicit:
                setattr(cfg, key, constant.value)
    problem = check_config(cfg, parser.config_choices, args.explicit,
                           edition and (args.edition, edition))
    if problem:
        parser.error(problem)
    return cfg, args


def check_config(cfg, choices=None, explicit=None, edition=None):
    """The first invalid value of `cfg` as a one-line message naming key and range, or None.

    `choices`: {key: allowed names} (see config_parser). `explicit`: the keys the command line
    gave; a bad value of another key came from the edition file or config.py, and the message
    names its line there. None: every value counts as the command line's (`--key` in the
    message). `edition`: (its path, its constants), when one was given."""
    found = _problem(cfg, choices, lambda k: f"--{k}")
    if found is None:
        return None
    key, text = found
    if explicit is None or key in explicit:
        return text
    path, constants = edition or (None, {})
    where = (f"{path} line {constants[key].line}" if key in constants
             else f"config.py line {read_config_file()[key].line}")
    return f"{where}: {_problem(cfg, choices, lambda k: k)[1]}"


def _problem(cfg, choices, o):
    """(key, message) for the first invalid value of `cfg`, or None; `o(key)` names a key."""
    train_size = MNIST_TRAIN - cfg.validation_size
    positive = ("training_steps", "batch_size", "display_step", "num_hidden",
                "num_input", "timesteps", "test_len", "checkpoint_every", "keep_checkpoints")
    for key in positive:
        if getattr(cfg, key) <= 0:
            return key, f"{o(key)} must be a positive integer, got {getattr(cfg, key)}"
    if not (math.isfinite(cfg.learning_rate) and cfg.learning_rate > 0):
        return "learning_rate", (f"{o('learning_rate')} must be a positive finite number, "
                                 f"got {cfg.learning_rate}")
    if cfg.timesteps * cfg.num_input != MNIST_PIXELS:
        return "timesteps", (f"{o('timesteps')} * {o('num_input')} must be {MNIST_PIXELS} "
                             f"(28x28 pixels), got {cfg.timesteps} * {cfg.num_input} = "
                             f"{cfg.timesteps * cfg.num_input}")
    if cfg.num_classes != 10:
        return "num_classes", (f"{o('num_classes')} must be 10 (MNIST digits 0-9), "
                               f"got {cfg.num_classes}")
    if not 0 <= cfg.validation_size < MNIST_TRAIN:
        return "validation_size", (f"{o('validation_size')} must be between 0 and "
                                   f"{MNIST_TRAIN - 1}, got {cfg.validation_size}")
    if cfg.batch_size > train_size:
        return "batch_size", (f"{o('batch_size')} must be between 1 and {train_size} (the "
                              f"train set size), got {cfg.batch_size}")
    if cfg.test_len > MNIST_TEST:
        return "test_len", (f"{o('test_len')} must be between 1 and {MNIST_TEST}, "
                            f"got {cfg.test_len}")
    for key, names in dict(choices or {}, lstm_impl=("basic", "fast", "fused"),
                           log_format=("step", "iter")).items():
        if getattr(cfg, key) not in names:
            close = difflib.get_close_matches(str(getattr(cfg, key)).lower(), names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            return key, (f"{o(key)} must be one of {', '.join(names)}, "
                         f"got {getattr(cfg, key)!r}{hint}")
    if cfg.lstm_impl in ("fast", "fused") and (cfg.cell != "basic_lstm" or cfg.bidirectional):
        return "lstm_impl", (f"{o('lstm_impl')}={cfg.lstm_impl} is the tutorial's cell read one "
                             f"way ({o('cell')}=basic_lstm {o('bidirectional')}=False), not "
                             f"{o('cell')}={cfg.cell} {o('bidirectional')}={cfg.bidirectional};"
                             f" use {o('lstm_impl')}=basic for that")
    if cfg.lstm_impl == "fused":
        import fused_lstm   # only then: it loads TensorFlow
        if fused_lstm.missing_compiler():
            return "lstm_impl", f"{o('lstm_impl')}=fused {fused_lstm.missing_compiler()}"
    if not (math.isfinite(cfg.momentum) and cfg.momentum >= 0):
        return "momentum", f"{o('momentum')} must be a finite number >= 0, got {cfg.momentum}"
    if cfg.seed is not None and not 0 <= cfg.seed < 2**31:
        return "seed", f"{o('seed')} must be between 0 and {2**31 - 1}, got {cfg.seed}"
    return None


def repeat_command(cfg, seed, edition=None):
    """The command line that repeats this run: its edition file, its seed, and every constant
    whose value is not the published one (with the edition's over it)."""
    base = edition_config(edition) if edition else PUBLISHED
    args = [f"--{k}={v}" for k, v in vars(cfg).items()
            if k not in ("seed", "runs_dir") and v != base.get(k)]
    return shlex.join(["python", "train_rnn.py", *([edition] if edition else []),
                       f"--seed={seed}", *args])
