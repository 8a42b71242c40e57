"""The scripts' command lines: config.py's constants as checked `--key=value` options, an
edition file over config.py, and argparse errors as one line with exit status 2.

    cfg, args = parse_config(["--training_steps=500", "--seed=3"])   # cfg.training_steps == 500
    cfg, args = parse_config(["editions/recurrent_network_2017_01.py"],
                             config_parser(editions=True))            # cfg.optimizer == "adam"

config.py applies first, then the edition file, then the command line. Only known keys are
accepted, each checked against its range (settings.problem_in); anything else stops with one
line naming the key, where it came from (`--key`, `config.py line N`, the edition file's line)
and the fix.
"""
import argparse
import os
import sys
import types

from lstm_mnist import ROOT, mistakes, settings
from lstm_mnist.published import CHOICES, PUBLISHED, kind_of


class ArgParser(argparse.ArgumentParser):
    """argparse with its errors on one line (no usage dump), exit status 2, and the module
    docstring shown as written in --help."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def defaults_or_exit():
    """config.py's constants as a dict; a broken config.py ends the program with its one line,
    exit status 2."""
    try:
        return settings.config_defaults()
    except settings.ConfigError as e:
        print(f"{os.path.basename(sys.argv[0]) or 'python'}: error: {e}", file=sys.stderr)
        sys.exit(2)


def config_parser(prog="train_rnn.py", description=None, editions=False):
    """An ArgParser with one --key option per constant of config.py; its help is the
    constant's comment in config.py. `editions`: also take an edition file (the positional
    argument `edition`) to apply over config.py."""
    parser = ArgParser(prog=prog, description=description, allow_abbrev=False)
    defaults_or_exit()   # a broken config.py stops here, with its line
    for key, constant in settings.read_config_file().items():
        kind, names = kind_of(key), CHOICES.get(key)
        parser.add_argument(f"--{key}", type=str if kind is str else
                            typed(kind, optional=PUBLISHED[key] is None),
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
    whether it came from the command line, the edition file or config.py.

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
        parser.error(mistakes.unknown_key(unknown[0].split("=")[0]))
    cfg = types.SimpleNamespace(**{k: getattr(args, k) for k in PUBLISHED})
    args.explicit = {k for k in PUBLISHED
                     if any(a == f"--{k}" or a.startswith(f"--{k}=") for a in argv)}
    args.edition = getattr(args, "edition", None)
    edition = {}
    if args.edition:   # its constants over config.py's, under the command line's
        try:
            args.edition = settings.find_edition(args.edition)
            edition = settings.read_config_file(os.path.join(ROOT, args.edition), partial=True)
        except settings.ConfigError as e:
            parser.error(str(e))
        for key, constant in edition.items():
            if key not in args.explicit:
                setattr(cfg, key, constant.value)
    if problem := check_config(cfg, args.explicit, edition and (args.edition, edition)):
        parser.error(problem)
    return cfg, args


def check_config(cfg, explicit=None, edition=None):
    """The first invalid value of `cfg` as a one-line message naming key and range, or None.

    `explicit`: the keys the command line gave; a bad value of another key came from the
    edition file or config.py, and the message names its line there. None: every value counts
    as the command line's (`--key` in the message). `edition`: (its path, its constants), when
    one was given."""
    problem = settings.problem_in(cfg)
    if problem is None:
        return None
    if explicit is None or problem.key in explicit:
        return problem.text(as_option=True)
    path, constants = edition or (None, {})
    where = (f"{path} line {constants[problem.key].line}" if problem.key in constants
             else f"config.py line {settings.read_config_file()[problem.key].line}")
    return f"{where}: {problem.text(as_option=False)}"


def train_config_reader(prog, parser):
    """A function: train_rnn.py's arguments (an edition file first, if any) -> the config it
    runs with, as a dict; bad arguments end the program with one line from `parser`'s prog."""
    def read(train_args):
        cfg, _ = parse_config(train_args, config_parser(prog=prog, editions=True))
        return vars(cfg)
    return read


def ray_cluster(parser, address):
    """The Ray cluster at `address` (--ray), or None without it; one line from `parser` and
    exit 2 when it can't be joined."""
    if not address:
        return None
    from lstm_mnist import cluster   # Ray loads only when asked for
    try:
        return cluster.connect(address)
    except cluster.ClusterError as e:
        parser.error(str(e))


def split_at_dashes(argv):
    """(a script's own arguments, those after `--` for train_rnn.py)."""
    if "--" in argv:
        return argv[:argv.index("--")], argv[argv.index("--") + 1:]
    return argv, []


def convert(key, text):
    """A command-line value `text` of `key` as its published type (ValueError if it is not)."""
    kind = kind_of(key)
    try:
        return text if kind is str else typed(kind, PUBLISHED[key] is None)(text)
    except argparse.ArgumentTypeError as e:
        raise ValueError(f"--{key}: {e}") from None


def typed(kind, optional):
    """argparse's `type` for a constant of `kind` (None too, when `optional`)."""
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
            meant, _ = mistakes.number_meant(text, kind)
            raise argparse.ArgumentTypeError(
                f"expects {'a number' if kind is float else 'an integer'}"
                f"{' or None' if optional else ''}, got {text!r}"
                + (f"; write {meant}" if meant else "")) from None
    convert.__name__ = kind.__name__
    return convert
