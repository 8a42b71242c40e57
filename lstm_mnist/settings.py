"""config.py and the edition files, read as data (never run): each constant's value, its line
and its comment; the checks of a whole config's values; the command that repeats a run.

    cfg = config_defaults()                      # {key: value}, ConfigError at a mistake
    constants = read_config_file(path)           # {key: Constant(value, line, comment)}
    problem = problem_in(cfg)                    # Problem(key, text), or None

Each constant must be `name = value` with a plain value (a number, a quoted string, True, False
or None) of its published type (published.py); an int may stand where a float belongs. An
edition file (editions/*.py, or any file of such lines) holds some of the constants and applies
over config.py. A mistake becomes one line naming the file, the line and the likely fix
(mistakes.py).
"""
import ast
import dataclasses
import difflib
import functools
import io
import math
import os
import shlex
import tokenize

from lstm_mnist import ROOT, mistakes
from lstm_mnist.mistakes import Mistake
from lstm_mnist.published import (CHOICES, MNIST_PIXELS, MNIST_TEST, MNIST_TRAIN, PUBLISHED,
                                  kind_of)

CONFIG_FILE = os.path.join(ROOT, "config.py")
EDITIONS_DIR = os.path.join(ROOT, "editions")   # one file per published edition of the tutorial
POSITIVE = ("training_steps", "batch_size", "display_step", "num_hidden", "num_input",
            "timesteps", "test_len", "checkpoint_every", "keep_checkpoints")


class ConfigError(Exception):
    """A file of constants can't be used; the message names its line and the fix."""


@dataclasses.dataclass(frozen=True)
class Constant:
    value: object
    line: int
    comment: str   # its comment in the file: the --help text of its --key


def config_defaults():
    """The constants of config.py, checked, as a dict; ConfigError at a mistake."""
    return {k: c.value for k, c in read_config_file().items()}


def read_config_file(path=CONFIG_FILE, partial=False):
    """A file of constants: {key: Constant}. `partial`: an edition file, which holds only the
    constants it changes.

    Raises:
        ConfigError: a syntax error, a statement that is not a constant, a value of the wrong
        type, an unknown name, a missing constant (not `partial`); the message names the file
        and line and the likely fix.
    """
    name = shown_path(path) if partial else os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {name} ({getattr(e, 'strerror', None) or e.reason}); "
                          + ("give a readable file of constants" if partial else
                             "restore it with: git checkout config.py")) from None
    found = _read(source, name, partial)
    if isinstance(found, Mistake):
        raise ConfigError(mistakes.explain(found))
    return found


@functools.lru_cache(maxsize=16)
def _read(source, name, partial):
    """{key: Constant} of a file's text, or the first Mistake in it."""
    try:
        tree = ast.parse(source, name)
    except SyntaxError as e:
        lines = source.splitlines()
        line = lines[e.lineno - 1] if e.lineno and 0 < e.lineno <= len(lines) else ""
        return Mistake("syntax", f"{name} line {e.lineno}", text=line, value=e.msg)
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
            return Mistake("statement", where, text=ast.get_source_segment(source, node))
        key = node.targets[0].id
        if key.startswith("_"):
            continue
        if key not in PUBLISHED:
            return Mistake("unknown", where, key)
        if key in found:
            return Mistake("repeated", where, key, first_line=found[key].line)
        value = _value(key, node.value, ast.get_source_segment(source, node.value), where)
        if isinstance(value, Mistake):
            return value
        found[key] = Constant(value, node.lineno, comments.get(node.lineno, ""))
    missing = [k for k in PUBLISHED if k not in found]
    if missing and not partial:
        return Mistake("missing", name, missing[0])
    return found


def _value(key, node, text, where):
    """The value of `key = text`, of the key's published type, or a Mistake."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return Mistake("not_plain", where, key, text)
    if isinstance(value, tuple):
        return Mistake("tuple", where, key, text, value)
    if kind_of(key) is int and isinstance(value, float) and value.is_integer():
        return Mistake("float_for_int", where, key, text, value)
    if not mistakes.fits(key, value):
        return Mistake("wrong_type", where, key, text, value)
    return float(value) if kind_of(key) is float else value


# ---------------------------------------------------------------------------------------------
# Edition files

def shown_path(path):
    """How a file of constants is named in messages and commands: relative to the project
    (config.py, editions/recurrent_network_2017_01.py) when it lies in it, else absolute."""
    path = os.path.abspath(path)
    inside = os.path.commonpath([path, ROOT]) == ROOT
    return os.path.relpath(path, ROOT) if inside else path


def find_edition(text):
    """The edition file that `text` names: a path, or an edition's name (recurrent_network_2017_01)
    from editions/; its shown_path. ConfigError, listing the editions, when there is none."""
    for path in (text, os.path.join(ROOT, text), os.path.join(EDITIONS_DIR, text),
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
    constants = read_config_file(os.path.join(ROOT, path), partial=True)
    return dict(base or PUBLISHED, **{k: c.value for k, c in constants.items()})


# ---------------------------------------------------------------------------------------------
# A whole config's values: their ranges, and the command that repeats a run

@dataclasses.dataclass(frozen=True)
class Problem:
    """The first invalid value of a config: its key, and a message whose {names} of constants
    the caller fills in (--key on the command line, key in a file)."""
    key: str
    template: str

    def text(self, as_option=True):
        names = {k: f"--{k}" if as_option else k for k in PUBLISHED}
        return self.template.format(**names)


def _v(value, quoted=False):
    """A value shown in a Problem's template: its braces kept as they are."""
    text = repr(value) if quoted else str(value)
    return text.replace("{", "{{").replace("}", "}}")


def problem_in(cfg):
    """The first invalid value of `cfg` (a namespace) as a Problem, or None."""
    for key in POSITIVE:
        if getattr(cfg, key) <= 0:
            return Problem(key, f"{{{key}}} must be a positive integer, got "
                                f"{_v(getattr(cfg, key))}")
    if not (math.isfinite(cfg.learning_rate) and cfg.learning_rate > 0):
        return Problem("learning_rate", "{learning_rate} must be a positive finite number, got "
                                        f"{_v(cfg.learning_rate)}")
    if cfg.timesteps * cfg.num_input != MNIST_PIXELS:
        return Problem("timesteps", f"{{timesteps}} * {{num_input}} must be {MNIST_PIXELS} "
                                    f"(28x28 pixels), got {cfg.timesteps} * {cfg.num_input} = "
                                    f"{cfg.timesteps * cfg.num_input}")
    if cfg.num_classes != 10:
        return Problem("num_classes", "{num_classes} must be 10 (MNIST digits 0-9), got "
                                      f"{cfg.num_classes}")
    if not 0 <= cfg.validation_size < MNIST_TRAIN:
        return Problem("validation_size", "{validation_size} must be between 0 and "
                                          f"{MNIST_TRAIN - 1}, got {cfg.validation_size}")
    if cfg.batch_size > MNIST_TRAIN - cfg.validation_size:
        return Problem("batch_size", "{batch_size} must be between 1 and "
                                     f"{MNIST_TRAIN - cfg.validation_size} (the train set size), "
                                     f"got {cfg.batch_size}")
    if cfg.test_len > MNIST_TEST:
        return Problem("test_len", f"{{test_len}} must be between 1 and {MNIST_TEST}, got "
                                   f"{cfg.test_len}")
    for key, names in CHOICES.items():
        if getattr(cfg, key) not in names:
            close = difflib.get_close_matches(str(getattr(cfg, key)).lower(), names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            return Problem(key, f"{{{key}}} must be one of {', '.join(names)}, got "
                                f"{_v(getattr(cfg, key), quoted=True)}{_v(hint)}")
    return _impl_problem(cfg) or _last_problems(cfg)


def _impl_problem(cfg):
    if cfg.lstm_impl in ("fast", "fused") and (cfg.cell != "basic_lstm" or cfg.bidirectional):
        return Problem("lstm_impl", f"{{lstm_impl}}={cfg.lstm_impl} is the tutorial's cell read "
                                    "one way ({cell}=basic_lstm {bidirectional}=False), not "
                                    f"{{cell}}={_v(cfg.cell)} "
                                    f"{{bidirectional}}={cfg.bidirectional}; "
                                    "use {lstm_impl}=basic for that")
    if cfg.lstm_impl == "fused":
        from lstm_mnist import compiler
        if why := compiler.missing():
            return Problem("lstm_impl", "{lstm_impl}=fused " + _v(why))
    return None


def _last_problems(cfg):
    if not (math.isfinite(cfg.momentum) and cfg.momentum >= 0):
        return Problem("momentum", f"{{momentum}} must be a finite number >= 0, got "
                                   f"{_v(cfg.momentum)}")
    if cfg.seed is not None and not 0 <= cfg.seed < 2**31:
        return Problem("seed", f"{{seed}} must be between 0 and {2**31 - 1}, got {cfg.seed}")
    return None


def repeat_command(cfg, seed, edition=None):
    """The command line that repeats this run: its edition file, its seed, and every constant
    whose value is not the published one (with the edition's over it)."""
    base = edition_config(edition) if edition else PUBLISHED
    args = [f"--{k}={v}" for k, v in vars(cfg).items()
            if k not in ("seed", "runs_dir") and v != base.get(k)]
    return shlex.join(["python", "train_rnn.py", *([edition] if edition else []),
                       f"--seed={seed}", *args])
