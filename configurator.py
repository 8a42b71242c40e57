"""The constants of config.py as a checked command line: `--key=value` overrides any of them.

    cfg, args = parse_config(["--training_steps=500", "--seed=3"])   # cfg.training_steps == 500

Only known keys are accepted, each converted to its constant's type and checked against its
range; anything else stops with one line naming the key and the fix, exit status 2. Used by
train_rnn.py (and through it by predict.py, bench.py and the tests).
"""
import argparse
import difflib
import math
import shlex
import types

import config

MNIST_PIXELS = 784
MNIST_TRAIN = 60000
MNIST_TEST = 10000


def config_defaults():
    """The tutorial's constants from config.py, as a dict."""
    return {k: v for k, v in vars(config).items()
            if not k.startswith("_") and isinstance(v, (int, float, str, type(None)))}


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
            raise argparse.ArgumentTypeError(
                f"expects {'a number' if kind is float else 'an integer'}"
                f"{' or None' if optional else ''}, got {text!r}") from None
    convert.__name__ = kind.__name__
    return convert


def config_parser(prog="train_rnn.py", description=None, choices=None):
    """An argparse parser with one --key option per constant of config.py.

    `choices`: {key: the names that key allows}, such as train_rnn.CHOICES; parse_config checks
    them, whether they come from the command line or from config.py.
    """
    parser = _ArgParser(prog=prog, description=description, allow_abbrev=False,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.config_choices = choices or {}
    for key, default in config_defaults().items():
        kind = (bool if isinstance(default, bool) else str if isinstance(default, str)
                else float if isinstance(default, float) else int)
        parser.add_argument(f"--{key}", type=str if kind is str else
                            _typed(kind, optional=default is None),
                            default=default, metavar=kind.__name__.upper(),
                            help=f"default: {default}" + (f"; one of: {', '.join(choices[key])}"
                                                           if key in (choices or {}) else ""))
    return parser


def parse_config(argv, parser=None):
    """Command line -> (config namespace, all parsed args). Exits 2 with one line on bad input.

    `args.explicit` holds the config keys the command line gave.
    """
    parser = parser or config_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        key = unknown[0].split("=")[0]
        options = [o for action in parser._actions for o in action.option_strings
                   if o.startswith("--")]
        close = difflib.get_close_matches(key, options, n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        parser.error(f"unknown config key {key}{hint}; known keys: {', '.join(config_defaults())}")
    cfg = types.SimpleNamespace(**{k: getattr(args, k) for k in config_defaults()})
    args.explicit = {k for k in config_defaults()
                     if any(a == f"--{k}" or a.startswith(f"--{k}=") for a in argv)}
    problem = check_config(cfg, parser.config_choices)
    if problem:
        parser.error(problem)
    return cfg, args


def check_config(cfg, choices=None):
    """The first invalid value of `cfg` as a one-line message naming key and range, or None.
    `choices`: {key: allowed names} (see config_parser)."""
    train_size = MNIST_TRAIN - cfg.validation_size
    positive = ("training_steps", "batch_size", "display_step", "num_hidden",
                "num_input", "timesteps", "test_len", "checkpoint_every", "keep_checkpoints")
    for key in positive:
        if getattr(cfg, key) <= 0:
            return f"--{key} must be a positive integer, got {getattr(cfg, key)}"
    if not (math.isfinite(cfg.learning_rate) and cfg.learning_rate > 0):
        return f"--learning_rate must be a positive finite number, got {cfg.learning_rate}"
    if cfg.timesteps * cfg.num_input != MNIST_PIXELS:
        return (f"--timesteps * --num_input must be {MNIST_PIXELS} (28x28 pixels), "
                f"got {cfg.timesteps} * {cfg.num_input} = {cfg.timesteps * cfg.num_input}")
    if cfg.num_classes != 10:
        return f"--num_classes must be 10 (MNIST digits 0-9), got {cfg.num_classes}"
    if not 0 <= cfg.validation_size < MNIST_TRAIN:
        return f"--validation_size must be between 0 and {MNIST_TRAIN - 1}, got {cfg.validation_size}"
    if cfg.batch_size > train_size:
        return (f"--batch_size must be between 1 and {train_size} (the train set size), "
                f"got {cfg.batch_size}")
    if cfg.test_len > MNIST_TEST:
        return f"--test_len must be between 1 and {MNIST_TEST}, got {cfg.test_len}"
    for key, names in dict(choices or {}, lstm_impl=("basic", "fast")).items():
        if getattr(cfg, key) not in names:
            close = difflib.get_close_matches(str(getattr(cfg, key)).lower(), names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            return f"--{key} must be one of {', '.join(names)}, got {getattr(cfg, key)!r}{hint}"
    if cfg.lstm_impl == "fast" and (cfg.cell != "basic_lstm" or cfg.bidirectional):
        return (f"--lstm_impl=fast is the tutorial's cell read one way (--cell=basic_lstm "
                f"--bidirectional=False), not --cell={cfg.cell} --bidirectional="
                f"{cfg.bidirectional}; use --lstm_impl=basic for that")
    if not (math.isfinite(cfg.momentum) and cfg.momentum >= 0):
        return f"--momentum must be a finite number >= 0, got {cfg.momentum}"
    if cfg.seed is not None and not 0 <= cfg.seed < 2**31:
        return f"--seed must be between 0 and {2**31 - 1}, got {cfg.seed}"
    return None


# config.py as published. The repeat command lists what differs from these, not from config.py
# as it is now, so that it repeats the run whatever config.py holds later.
PUBLISHED = dict(learning_rate=0.001, optimizer="gradient_descent", momentum=0.9,
                 training_steps=10000, batch_size=128, display_step=200, num_input=28,
                 timesteps=28, num_hidden=128, num_classes=10, cell="basic_lstm",
                 bidirectional=False, lstm_impl="basic",
                 test_len=128, data_dir="/tmp/data/", validation_size=5000, runs_dir="runs",
                 checkpoint_every=1000, keep_checkpoints=3, seed=None)


def repeat_command(cfg, seed):
    """The command line that repeats this run: its seed plus every constant whose value is not
    the published one."""
    args = [f"--{k}={v}" for k, v in vars(cfg).items()
            if k not in ("seed", "runs_dir") and v != PUBLISHED.get(k)]
    return shlex.join(["python", "train_rnn.py", f"--seed={seed}", *args])
