"""The band store: which seed band belongs to which config, and what config a run or log has.

    band_path = find_band(cfg, last_step)   # the band file of cfg's model reaching last_step

A band is the spread of many seeds of one config (make_band.py makes it). Each band file records
its config; compare_log.py finds the band of a run's config by itself, among the tutorial's
(reference/seed_band.json) and those make_band.py stored under bands/<config hash>_<steps>/.
The hash covers what changes the printed log (the model, optimizer, data split, display_step,
test_len), not the run's length: a band of 10000 steps also judges a run cut short at 400.
"""
import glob
import hashlib
import json
import os
import re
import shlex

import configurator

HERE = os.path.dirname(os.path.abspath(__file__))
BANDS_DIR = os.path.join(HERE, "bands")
REFERENCE_BAND = os.path.join(HERE, "reference", "seed_band.json")

# constants that don't change what a run prints (lstm_impl: the same math)
NOT_THE_MODEL = {"seed", "runs_dir", "data_dir", "checkpoint_every", "keep_checkpoints",
                 "lstm_impl"}
HEADER_RE = re.compile(r"^# seed (\d+); repeat this run with: (.*)$")


def model_config(cfg):
    """The constants of a config dict that shape its log, training_steps included."""
    return {k: cfg[k] for k in configurator.PUBLISHED if k not in NOT_THE_MODEL}


def config_hash(cfg):
    """10 hex digits naming a config's model, whatever its training_steps."""
    model = dict(model_config(cfg), training_steps=None)
    text = json.dumps(model, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def band_folder(cfg):
    """Where make_band.py stores the band of `cfg` (a dict): bands/<hash>_<training_steps>."""
    return os.path.join(BANDS_DIR, f"{config_hash(cfg)}_{cfg['training_steps']}")


def differences(cfg, base):
    """'key=value' for each constant of `cfg` that shapes the log and differs from `base`."""
    return [f"{k}={v}" for k, v in model_config(cfg).items() if v != base.get(k)]


def model_differences(cfg, base):
    """differences() apart from the run's length: what makes two configs different models."""
    return differences(dict(cfg, training_steps=None), dict(base, training_steps=None))


def band_config(band):
    """The full config a band was made with: its own record, or (older files) the published
    config with the arguments make_band.py passed on."""
    if "config" in band:
        return dict(configurator.PUBLISHED, **band["config"])
    return args_config(band.get("train_args", []), configurator.PUBLISHED)


def args_config(args, base):
    """`base` with `--key=value` arguments applied, each value converted to its key's type
    (ValueError for a value that is not)."""
    cfg = dict(base)
    for arg in args:
        key, _, value = arg.lstrip("-").partition("=")
        if key in configurator.PUBLISHED:
            cfg[key] = configurator.convert(key, value)
    return cfg


def run_config(path, steps=None):
    """(config dict, how it was found) of a run folder or log file.

    A run folder has config.json; a log that train_rnn.py printed starts with its repeat command;
    any other log (the tutorial's published one) is taken as the published config, with the
    display_step and training_steps its lines show (`steps`).
    """
    folder = path if os.path.isdir(path) else None
    if folder:
        try:
            with open(os.path.join(folder, "config.json")) as f:
                return dict(configurator.PUBLISHED, **json.load(f)["config"]), "its config.json"
        except (OSError, ValueError, KeyError, TypeError):
            path = os.path.join(folder, "log.txt")
    try:
        with open(path, errors="replace") as f:
            first = f.readline().strip()
    except OSError:
        first = ""
    if m := HEADER_RE.match(first):
        try:   # after "python train_rnn.py"
            return args_config(shlex.split(m[2])[2:], configurator.PUBLISHED), "its first line"
        except ValueError:   # a hand-edited line: read the log as a bare one
            pass
    cfg = dict(configurator.PUBLISHED)
    if steps and len(steps) > 1:
        cfg.update(display_step=steps[1], training_steps=steps[-1])
    return cfg, "assumed: no '# seed' line, so the tutorial's config"


def all_bands():
    """Every band file the store holds: the tutorial's, then bands/*/band.json."""
    return [REFERENCE_BAND] + sorted(glob.glob(os.path.join(BANDS_DIR, "*", "band.json")))


def find_band(cfg, last_step):
    """The band file of `cfg`'s model whose runs reach `last_step`: the shortest such, or
    None."""
    found = []
    for path in all_bands():
        try:
            with open(path) as f:
                band = json.load(f)
            if (config_hash(band_config(band)) == config_hash(cfg)
                    and band["steps"][-1] >= last_step):
                found.append((band["steps"][-1], path))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            continue   # not a band file: compare_log reports it when asked for it by name
    return min(found)[1] if found else None


def make_band_command(cfg):
    """The command that makes the band of `cfg`: its differences from config.py passed on."""
    now = configurator.config_defaults()
    args = [f"--{d}" for d in differences(cfg, now)]
    return shlex.join(["python", "make_band.py", "--seeds", "10", *(["--", *args] if args
                                                                     else [])])
