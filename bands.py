"""The band store: which seed band belongs to which config, and what config a run or log has.

    band_path = find_band(cfg, last_step)   # the band file of cfg's model reaching last_step

A band is the spread of many seeds of one config (make_band.py makes it). Each band file records
its config; compare_log.py finds the band of a run's config by itself, among the tutorial's
(reference/seed_band.json), the other published editions' (reference/editions/<edition>/, one
per file in editions/) and those make_band.py stored under bands/<config hash>_<steps>/.
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
COMMITTED_BANDS_DIR = os.path.join(HERE, "reference", "bands")   # edited configs' bands, kept
REFERENCE_BAND = os.path.join(HERE, "reference", "seed_band.json")
REFERENCE_LOG = os.path.join(HERE, "reference", "tutorial_output.log")
EDITIONS_REFERENCE = os.path.join(HERE, "reference", "editions")
TUTORIAL_EDITION = "recurrent_network_2017_08"   # config.py's: the tutorial as published

# constants that don't change what a run prints (lstm_impl: the same math)
NOT_THE_MODEL = {"seed", "runs_dir", "data_dir", "checkpoint_every", "keep_checkpoints",
                 "lstm_impl"}
LATER = {"log_format"}
HEADER_RE = re.compile(r"^# seed (\d+); repeat this run with: (.*)$")


def model_config(cfg):
    """The constants of a config dict that shape its log, training_steps included."""
    return {k: cfg[k] for k in configurator.PUBLISHED if k not in NOT_THE_MODEL}


def config_hash(cfg):
    """10 hex digits naming a config's model, whatever its training_steps. A constant added
    since bands were first stored (LATER) counts only when it is not the published value, so
    that an older band keeps its folder name."""
    model = {k: v for k, v in model_config(cfg).items()
             if k not in LATER or v != configurator.PUBLISHED[k]}
    model["training_steps"] = None
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


def run_config(path, log=None, edition=None):
    """(config dict, how it was found) of a run folder or log file.

    A run folder has config.json; a log that train_rnn.py printed starts with its repeat command;
    any other log (a published one) is taken as `edition`'s when it prints that edition's kind of
    lines, else as the tutorial's for `Step` lines and its January 2017 edition's for `Iter`
    lines, with the display_step and training_steps that its lines (`log`, parsed) show.
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
        try:
            return command_config(m[2]), "its first line"
        except (ValueError, configurator.ConfigError):   # hand-edited: read it as a bare log
            pass
    iters = log is not None and log["format"] == "iter"
    if edition and edition_config(edition)["log_format"] == ("iter" if iters else "step"):
        how = f"--edition {edition}"
    else:
        edition = next((n for n in editions() if edition_config(n)["log_format"] == "iter"),
                       None) if iters else TUTORIAL_EDITION
        how = ("assumed: no '# seed' line, so the tutorial's config" if not iters else
               f"assumed: no '# seed' line and Iter lines, so the {edition} edition")
    cfg = edition_config(edition)
    steps = log["steps"] if log else []
    if len(steps) > 1 or iters:   # Step lines: 1, display_step, ...; Iter: display_step, ...
        cfg.update(display_step=steps[0] if iters else steps[1], training_steps=steps[-1])
    return cfg, how


def command_config(command):
    """The config of a repeat command (`python train_rnn.py [EDITION] --key=value ...`), over
    the published one; ValueError or ConfigError when it can't be read."""
    args = shlex.split(command)[2:]
    base = configurator.PUBLISHED
    if args and not args[0].startswith("-"):   # an edition file, relative to the project
        base = configurator.edition_config(configurator.find_edition(args.pop(0)))
    return args_config(args, base)


def all_bands():
    """Every band file the store holds: the tutorial's, the other editions', the edited configs'
    committed under reference/bands/, then bands/*/band.json."""
    return [REFERENCE_BAND] + [edition_band(name)[0] for name in editions()
                               if name != TUTORIAL_EDITION] \
        + sorted(glob.glob(os.path.join(COMMITTED_BANDS_DIR, "*", "band.json"))) \
        + sorted(glob.glob(os.path.join(BANDS_DIR, "*", "band.json")))


# The published editions: a file of constants each (editions/*.py), a band, maybe a published log

def editions():
    """The editions' names, the tutorial's first, then its older edition, then the others."""
    if not os.path.isdir(configurator.EDITIONS_DIR):
        return []
    def order(name):   # <example>_<year>_<month>: the tutorial's example first, newest first
        example, _, date = name.partition("_20")
        return example != TUTORIAL_EDITION.partition("_20")[0], example, -int(
            re.sub(r"\D", "", date) or 0)
    return sorted((f[:-3] for f in os.listdir(configurator.EDITIONS_DIR) if f.endswith(".py")),
                  key=order)


def edition_config(name):
    """The published config with edition `name`'s constants over it."""
    return configurator.edition_config(os.path.join("editions", name + ".py"))


def edition_band(name):
    """(band file, folder of its seeds' logs) of an edition: committed under reference/."""
    if name == TUTORIAL_EDITION:
        return REFERENCE_BAND, os.path.join(HERE, "reference", "band_runs")
    folder = os.path.join(EDITIONS_REFERENCE, name)
    return os.path.join(folder, "band.json"), os.path.join(folder, "runs")


def published_log(name):
    """The log published for edition `name`, or None (none was kept)."""
    path = (REFERENCE_LOG if name == TUTORIAL_EDITION
            else os.path.join(EDITIONS_REFERENCE, name + ".log"))
    return path if os.path.exists(path) else None


def edition_of(cfg):
    """The name of the edition whose model `cfg` (a dict) is, or None."""
    for name in editions():
        if config_hash(edition_config(name)) == config_hash(cfg):
            return name
    return None


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
