"""Seed bands: the band file (the spread of many seeds of one config, and each seed's values),
the store that finds the band of a config, and what config a run or log has.

    band_path = find_band(cfg, last_step)   # the band file of cfg's model reaching last_step
    band = read_band(band_path)
    seeds = seeds_at(band, steps)           # as the rule (rule.py) takes them

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
import types

import numpy as np

from lstm_mnist import ROOT, cli, mistakes, published, rule, settings, tutorial_log
from lstm_mnist.tutorial_log import LogError

BANDS_DIR = os.path.join(ROOT, "bands")
COMMITTED_BANDS_DIR = os.path.join(ROOT, "reference", "bands")   # edited configs' bands, kept
REFERENCE_BAND = os.path.join(ROOT, "reference", "seed_band.json")
REFERENCE_LOG = os.path.join(ROOT, "reference", "tutorial_output.log")
EDITIONS_REFERENCE = os.path.join(ROOT, "reference", "editions")
TUTORIAL_EDITION = "recurrent_network_2017_08"   # config.py's: the tutorial as published

# constants that don't change what a run prints (lstm_impl: the same math)
NOT_THE_MODEL = {"seed", "runs_dir", "data_dir", "checkpoint_every", "keep_checkpoints",
                 "lstm_impl"}
LATER = {"log_format"}


# ---------------------------------------------------------------------------------------------
# The band file

def band_from_logs(logs):
    """The band of `logs` (tutorial_log.Logs of one config's seeds): per display step the seeds'
    mean, sd, min, max and percentiles (for people and plots), and each seed's own values (for
    the rule, which takes its limits from them at whatever steps it judges)."""
    steps, fmt = logs[0].steps, logs[0].format
    if any(log.steps != steps or log.format != fmt for log in logs):
        raise LogError("the seeds' logs have different display steps or formats")
    band = {"steps": list(steps), "format": fmt}
    for key in ("loss", "accuracy"):
        rows = [summarize([log.values(key)[i] for log in logs]) for i in range(len(steps))]
        band[key] = {stat: [row[stat] for row in rows] for stat in rows[0]}
    band["test_accuracy"] = summarize([log.test_accuracy for log in logs])
    fulls = [log.test_accuracy_full for log in logs if log.test_accuracy_full is not None]
    band["test_accuracy_full"] = summarize(fulls) if len(fulls) == len(logs) else None
    band["seeds"] = list(range(len(logs)))   # the count the rule needs; make_band names them
    band["seed_values"] = {"loss": [list(log.loss) for log in logs],
                           "accuracy": [list(log.accuracy) for log in logs],
                           "test_accuracy": [log.test_accuracy for log in logs]}
    return band


def summarize(values):
    """mean, sample sd (n - 1), min, max and the 2.5/97.5 percentiles of some numbers."""
    x = np.asarray(values, float)
    return {"mean": float(x.mean()), "std": float(x.std(ddof=1)) if len(x) > 1 else 0.0,
            "min": float(x.min()), "max": float(x.max()),
            "p2.5": float(np.percentile(x, 2.5)), "p97.5": float(np.percentile(x, 97.5))}


def band_json(band):
    """The band as JSON, numbers rounded to 6 digits, each list of numbers on one line."""
    def rounded(x):
        if isinstance(x, float):
            return round(x, 6)
        if isinstance(x, dict):
            return {k: rounded(v) for k, v in x.items()}
        return [rounded(v) for v in x] if isinstance(x, list) else x
    text = json.dumps(rounded(band), indent=1)
    return re.sub(r"\[\s+([-0-9.,\s]+?)\s+\]",
                  lambda m: "[" + re.sub(r"\s+", " ", m[1]) + "]", text) + "\n"


def read_band(path):
    """A band file, checked: its steps, seeds and each seed's values (which the rule needs).
    LogError, saying how to make it, when it is missing or not a usable band."""
    try:
        with open(path) as f:
            band = json.load(f)
        band["steps"], band["seeds"], band["loss"]["mean"], band["test_accuracy"]["mean"]
    except OSError as e:
        raise LogError(f"{path}: cannot read the band ({e.strerror}); make it with "
                       "python make_band.py") from None
    except (ValueError, KeyError, TypeError):
        raise LogError(f"{path}: not a seed band file; make it with python make_band.py") from None
    if len(band["seeds"]) < 4:
        raise LogError(f"{path}: a band needs at least 4 seeds, it has {len(band['seeds'])}; "
                       "make it again with python make_band.py --seeds 10")
    if "seed_values" not in band:
        raise LogError(f"{path}: made by an older make_band.py, without its seeds' values; make "
                       f"it again with: {remake_command(band)} (the seeds' logs are kept: "
                       "nothing trains again)")
    try:
        return _consistent(band, path)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise LogError(f"{path}: a damaged band file (its steps, seeds and values don't fit "
                       f"together); make it again with: {remake_command(band)}") from None


def _consistent(band, path):
    """`band` when its parts fit together: its seeds' values (what the rule reads) and its
    summaries (what the table and plot read); ValueError, KeyError or TypeError if not."""
    steps, seeds = band["steps"], band["seeds"]
    whole = [x for x in steps + seeds if isinstance(x, int) and not isinstance(x, bool)]
    if len(whole) != len(steps) + len(seeds) or not steps or steps[0] < 1 or \
            any(b <= a for a, b in zip(steps, steps[1:])) or band.get("format", "step") not in \
            tutorial_log.ROUNDING:
        raise ValueError
    values = band["seed_values"]
    shape = (len(seeds), len(steps))
    for key, top in (("loss", np.inf), ("accuracy", 1.0), ("test_accuracy", 1.0)):
        x = np.array(values[key], float)
        if x.shape != (shape if key != "test_accuracy" else shape[:1]) or \
                not (np.isfinite(x).all() and (x >= 0).all() and (x <= top).all()):
            raise ValueError
    for key in ("loss", "accuracy"):   # the summaries the table and the plot read
        for stat in ("mean", "std"):
            x = np.array(band[key][stat], float)
            if x.shape != (len(steps),) or not np.isfinite(x).all():
                raise ValueError
    if not isinstance(band.get("config", {}), dict):
        raise TypeError
    checked(band_config(band), path, "its config")
    return band


def remake_command(band, seeds=None):
    """The command that (re)makes `band`, with `seeds` seeds (default: as many as it has)."""
    args = band.get("train_args", [])
    edition = args[:1] if args and not args[0].startswith("-") else []
    rest = args[len(edition):]
    return shlex.join(["python", "make_band.py", *edition, "--seeds",
                       str(seeds or len(band["seeds"])), *(["--", *rest] if rest else [])])


def test_len(band):
    return band_config(band)["test_len"]


def wrong_images(accuracy, test_len):
    """The count of wrong images that a final test accuracy over test_len images stands for."""
    return round(test_len * (1 - accuracy))


def seeds_at(band, steps, final=True):
    """The band's seeds at `steps` (some of its display steps) as the rule takes them; with their
    final counts of wrong images when `final` (the final accuracy is judged)."""
    keep = [band["steps"].index(s) for s in steps]
    values = band["seed_values"]
    points = np.array([[[seed[i] for i in keep] for seed in values[key]]
                       for key in ("loss", "accuracy")]).transpose(1, 0, 2)   # (n, 2, k)
    n = test_len(band)
    wrong = (np.array([wrong_images(a, n) for a in values["test_accuracy"]]) if final
             else None)
    return rule.Seeds(tuple(steps), points, wrong, n,
                      tutorial_log.ROUNDING[band.get("format", "step")])


def error_rates(band):
    """How often the rule rejects the band's genuine runs at its full length: each seed judged
    against the band of the others (a single run), and each pair of seeds judged with each other
    against the band of the rest (--against). JSON-ready, seeds named."""
    rates = rule.error_rates(seeds_at(band, band["steps"]))
    seeds = band["seeds"]
    return {"single_run_rejected": rates.single_rate,
            "single_runs_rejected": [seeds[i] for i in rates.single],
            "pairs_rejected": rates.pair_rate,
            "pairs_rejected_seeds": [[seeds[i], seeds[j]] for i, j in rates.pairs],
            "single_runs": rates.singles, "pairs": rates.pair_count}


# ---------------------------------------------------------------------------------------------
# Which config: of a band, of a run


def model_config(cfg):
    """The constants of a config dict that shape its log, training_steps included."""
    return {k: cfg[k] for k in published.PUBLISHED if k not in NOT_THE_MODEL}


def config_hash(cfg):
    """10 hex digits naming a config's model, whatever its training_steps. A constant added
    since bands were first stored (LATER) counts only when it is not the published value, so
    that an older band keeps its folder name."""
    model = {k: v for k, v in model_config(cfg).items()
             if k not in LATER or v != published.PUBLISHED[k]}
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
        return dict(published.PUBLISHED, **band["config"])
    return args_config(band.get("train_args", []), published.PUBLISHED)


def args_config(args, base):
    """`base` with `--key=value` arguments applied, each value converted to its key's type
    (ValueError for a value that is not)."""
    cfg = dict(base)
    for arg in args:
        key, _, value = arg.lstrip("-").partition("=")
        if key in published.PUBLISHED:
            cfg[key] = cli.convert(key, value)
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
                saved = json.load(f)["config"]
            return checked(dict(published.PUBLISHED, **saved), folder, "its config.json"), \
                "its config.json"
        except (OSError, ValueError, KeyError, TypeError):
            path = os.path.join(folder, "log.txt")
    try:   # regular files only, bounded: a FIFO or /dev/zero is refused by read() after
        first = tutorial_log.read_text(path).split("\n", 1)[0].strip()
    except LogError:
        first = ""
    _, command = tutorial_log.seed_and_command(first)
    if command:
        try:
            cfg = command_config(command)
        except (ValueError, settings.ConfigError):   # hand-edited: read it as a bare log
            cfg = None
        if cfg is not None:
            return checked(cfg, path, "its first line"), "its first line"
    iters = log is not None and log.format == "iter"
    if edition and edition_config(edition)["log_format"] == ("iter" if iters else "step"):
        how = f"--edition {edition}"
    else:
        edition = next((n for n in editions() if edition_config(n)["log_format"] == "iter"),
                       None) if iters else TUTORIAL_EDITION
        how = ("assumed: no '# seed' line, so the tutorial's config" if not iters else
               f"assumed: no '# seed' line and Iter lines, so the {edition} edition")
    cfg = edition_config(edition)
    steps = log.steps if log else []
    if len(steps) > 1 or iters:   # Step lines: 1, display_step, ...; Iter: display_step, ...
        cfg.update(display_step=steps[0] if iters else steps[1], training_steps=steps[-1])
    return cfg, how


def checked(cfg, path, source):
    """`cfg` (a dict) when a run could have had it; else LogError naming `source` of `path`."""
    for key, value in cfg.items():
        if key in published.PUBLISHED and not mistakes.fits(key, value):
            raise LogError(f"{path}: {source} gives {key}={value!r}, which no run has; is it "
                           "damaged? Restore it, or judge a copy of the log without it")
    problem = settings.problem_in(types.SimpleNamespace(**cfg))
    if problem:
        raise LogError(f"{path}: {source} gives a config no run has "
                       f"({problem.text(as_option=False)}); is it damaged? Restore it, or judge "
                       "a copy of the log without it")
    return cfg


def command_config(command):
    """The config of a repeat command (`python train_rnn.py [EDITION] --key=value ...`), over
    the published one; ValueError or ConfigError when it can't be read."""
    args = shlex.split(command)[2:]
    base = published.PUBLISHED
    if args and not args[0].startswith("-"):   # an edition file, relative to the project
        base = settings.edition_config(settings.find_edition(args.pop(0)))
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
    if not os.path.isdir(settings.EDITIONS_DIR):
        return []
    def order(name):   # <example>_<year>_<month>: the tutorial's example first, newest first
        example, _, date = name.partition("_20")
        return example != TUTORIAL_EDITION.partition("_20")[0], example, -int(
            re.sub(r"\D", "", date) or 0)
    return sorted((f[:-3] for f in os.listdir(settings.EDITIONS_DIR) if f.endswith(".py")),
                  key=order)


def edition_config(name):
    """The published config with edition `name`'s constants over it."""
    return settings.edition_config(os.path.join("editions", name + ".py"))


def edition_band(name):
    """(band file, folder of its seeds' logs) of an edition: committed under reference/."""
    if name == TUTORIAL_EDITION:
        return REFERENCE_BAND, os.path.join(ROOT, "reference", "band_runs")
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


def make_command(cfg):
    """The command that makes the band of `cfg`: its differences from config.py passed on."""
    now = settings.config_defaults()
    args = [f"--{d}" for d in differences(cfg, now)]
    return shlex.join(["python", "make_band.py", "--seeds", "10", *(["--", *args] if args
                                                                     else [])])
