"""A run's log beside its seed band: which band and reference, the steps they share, the
verdict of the rule (rule.py) in words, the table and the plot. compare_log.py prints them;
make_band.py's tables and the notebook use them too.

    c = prepare(read_run("runs/NAME"))
    judged = judge(c)          # judged.consistent, judged.lines
"""
import contextlib
import dataclasses
import importlib.metadata
import json
import os

import numpy as np

from lstm_mnist import ROOT, atomic, bands, published, rule, tutorial_log
from lstm_mnist.tutorial_log import LogError


@dataclasses.dataclass(frozen=True)
class Run:
    """A log to judge: from a run folder or a saved stdout, and the config it was run with."""
    path: str
    log: tutorial_log.Log
    cfg: dict
    how: str      # how its config was found: "its config.json", "its first line", ...

    @property
    def name(self):
        return os.path.basename(os.path.normpath(self.path))


def read_run(path, edition=None):
    """The Run of a run folder or log file. `edition`: what a log without its '# seed' line is a
    log of (bands.run_config). LogError when it can't be read."""
    cfg, _ = bands.run_config(path)   # its batch size counts an Iter log's steps
    log = tutorial_log.read(path, complete=False, batch_size=cfg["batch_size"])
    cfg, how = bands.run_config(path, log, edition)
    return Run(path, log, cfg, how)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Everything a verdict needs: the run (and `other`, with --against), the band, the
    reference the table shows, the display steps judged and whether the final accuracy is."""
    run: Run
    other: Run | None
    band: dict
    band_path: str
    reference: tutorial_log.Log | None   # None: the seeds' mean
    reference_name: str
    reference_path: str | None
    steps: list
    final: bool

    @property
    def band_cfg(self):
        return bands.band_config(self.band)

    @property
    def edition(self):
        return self.band.get("edition") or bands.edition_of(self.band_cfg)

    @property
    def name(self):
        """What the band stands for, in the verdict: "consistent with {name}"."""
        if self.other:
            return "the other run"
        if self.reference_name == "tutorial":
            return "the tutorial"
        if self.edition not in (None, bands.TUTORIAL_EDITION):
            return f"the {self.edition} edition"
        return "this band" if self.differences(self.run) else "the band of its config"

    def differences(self, run):
        """How `run`'s model differs from the band's ('key=value')."""
        return bands.model_differences(run.cfg, self.band_cfg)


def prepare(run, other=None, edition=None, band_path=None, reference=None):
    """The Comparison of `run` (and `other`) with the band of its config, or the band and
    reference given. LogError, saying what to do, when they can't be compared."""
    if other:
        differs = [f"{k}={run.cfg[k]} vs {other.cfg[k]}" for k in bands.model_config(run.cfg)
                   if k != "training_steps" and run.cfg[k] != other.cfg[k]]
        if differs:
            raise LogError(f"{run.path} and {other.path} are runs of different configs "
                           f"({', '.join(differs)}); --against compares two runs of one config")
        if other.log.diverged:
            raise LogError(f"{other.path}: the other run {other.log.diverged}")
    last = max(r.log.steps[-1] for r in (run, other) if r)
    band_path = (band_path or edition and bands.edition_band(edition)[0]
                 or find_band(run, last))
    band = bands.read_band(band_path)
    band_cfg = bands.band_config(band)
    ref_log, ref_name, ref_path = None, "seeds' mean", None   # no published log: the mean
    if other:
        ref_log, ref_name = other.log, other.name
    elif reference or band.get("reference"):
        ref_path = reference or os.path.join(ROOT, band["reference"])
        ref_log = tutorial_log.read(ref_path, batch_size=band_cfg["batch_size"])
        edition_name = band.get("edition") or bands.edition_of(band_cfg)
        ref_name = ("tutorial" if ref_path == bands.REFERENCE_LOG else
                    f"{edition_name} as published" if not reference
                    else os.path.basename(ref_path))
    try:
        steps, final = shared_steps([r.log for r in (run, other) if r]
                                    + ([ref_log] if ref_log else []), band)
    except LogError as e:
        raise LogError(f"{run.path}: {e}") from None
    return Comparison(run, other, band, band_path, ref_log, ref_name, ref_path, steps, final)


class NoBand(LogError):
    """No band for the run's config yet: it can't be judged until one is made. `command` makes
    it; `minutes` is how long that takes here, about, when the run says how fast it ran."""

    def __init__(self, run, last_step, command, minutes):
        differs = ", ".join(bands.differences(run.cfg, published.PUBLISHED)) or "the tutorial"
        self.command, self.minutes = command, minutes
        super().__init__(f"no seed band yet for the config of {run.path} ({differs}; "
                         f"{run.how}) reaching step {last_step}, so it can't be judged")


def find_band(run, last_step):
    """The band file of the run's config reaching `last_step`; NoBand, with the command that
    makes it, when there is none."""
    band_path = bands.find_band(run.cfg, last_step)
    if band_path is None:
        raise NoBand(run, last_step, bands.make_command(run.cfg), band_minutes(run))
    return band_path


def band_minutes(run, seeds=10):
    """About how many minutes `seeds` runs like this one take here, all cores busy; None
    unless its run folder says how fast it ran (timing.json)."""
    try:
        with open(os.path.join(run.path, "timing.json")) as f:
            timing = json.load(f)
        core_ms = timing["ms_per_step"] * timing["cores"] * run.cfg["training_steps"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return max(1, round(core_ms * seeds / len(os.sched_getaffinity(0)) / 60000))


def shared_steps(logs, band):
    """The display steps that all `logs` (the run first) and the band have, and whether the
    final accuracy is judged: all steps for a run of the band's config, the first ones for a
    run cut short, a few for a run of another edition; the final accuracy only when the runs end
    where the band's seeds did. LogError when they share no step that shows training (step 1
    does not)."""
    steps = [s for s in band["steps"] if all(s in log.steps for log in logs)]
    if not [s for s in steps if s != 1]:
        if logs[0].steps == (1,):
            raise LogError("it stops at step 1, before any training shows; let it train to step "
                           f"{band['steps'][1]} at least")
        raise LogError(f"its display steps ({show(logs[0].steps)}) share none with the band's "
                       f"({show(band['steps'])}) or the reference's; give a band of its config, "
                       "or drop --band and --edition")
    final = steps[-1] == band["steps"][-1] and all(log.test_accuracy is not None for log in logs)
    return steps, final


def show(steps):
    return f"{steps[0]}..{steps[-1]}" + (f" every {steps[2] - steps[1]}" if len(steps) > 2
                                          else "")


# ---------------------------------------------------------------------------------------------
# The verdict in words

@dataclasses.dataclass(frozen=True)
class Judgement:
    verdict: rule.Verdict
    lines: list   # one a check, then "consistent with ..." or "not consistent: ..."

    @property
    def consistent(self):
        return self.verdict.consistent


def verdict(log, band, steps, final=True, against=None, name="the tutorial"):
    """Judge `log` (a tutorial_log.Log) by the rule against `band` at `steps`, or, `against`,
    with another run's log. `final`: the final test accuracy is judged."""
    seeds = bands.seeds_at(band, steps, final)
    n = bands.test_len(band)
    wrong = bands.wrong_images(log.test_accuracy, n) if final else None
    if against is None:
        judged = rule.judge(log.points(steps), seeds, wrong)
    else:
        judged = rule.judge_pair(log.points(steps), against.points(steps), seeds, wrong,
                                 bands.wrong_images(against.test_accuracy, n) if final else None)
    lines = [check.line for check in judged.checks]
    if not final:
        lines.append(f"final test accuracy: not judged (the band's is at step "
                     f"{band['steps'][-1]}, this comparison stops at step {steps[-1]})")
    other = "the other run" if against is not None else name
    lines.append(f"consistent with {other}" if judged.consistent else
                 f"not consistent: {judged.why}")
    if steps != band["steps"]:
        lines[-1] += (f" (judged on steps {steps[0]}..{steps[-1]}: {len(steps)} of the band's "
                      f"{len(band['steps'])} display steps)")
    return Judgement(judged, lines)


def judge(c):
    """The verdict of a Comparison."""
    return verdict(c.run.log, c.band, c.steps, c.final, c.other and c.other.log, c.name)


def judge_log(log, band, name="the band"):
    """The verdict of a log against a band on the steps they share (the editions' tables)."""
    steps, final = shared_steps([log], band)
    return verdict(log, band, steps, final, name=name)


def how_sure(band, steps, final, against=False):
    """A '#' line: how often this rule rejects the band's own seeds at `steps` (each seed against
    the others; with `against`, each pair of seeds), and the highest rate so few trials can't
    rule out; when the rate is over 5%, a caution and the command that makes a better band."""
    rates = rule.error_rates(bands.seeds_at(band, steps, final), pairs=against)
    if against:
        rejected, total = len(rates.pairs), rates.pair_count
        what = f"{rejected} of its {total} pairs of seeds, each pair judged against the rest"
    else:
        rejected, total = len(rates.single), rates.singles
        what = f"{rejected} of its {total} seeds, each judged against the others"
    line = (f"# how sure: at these {len(steps)} display steps this rule rejects {what} (so few "
            f"can't rule out a rate of {rule.upper_bound(rejected, total):.0%} for genuine runs)")
    if rejected > 0.05 * total:
        more = bands.remake_command(band, max(20, 2 * len(band["seeds"])))
        line += (". Caution: a verdict against this band is weak evidence; more seeds make a band"
                 f" that judges better: {more}")
    return line


def advice(c):
    """What to do after "not consistent": the likely causes and how to check them."""
    if differs := c.differences(c.run):
        return (f"# expected: this run's config differs from the band's ({', '.join(differs)}); "
                "judge it by its own config's band: drop --band (or --edition), and "
                "compare_log.py finds it or prints the command that makes it")
    made = c.band.get("versions", {})
    now = {}
    for package in ("tensorflow", "numpy"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            now[package] = importlib.metadata.version(package)
    versions = ", ".join(f"{p} {now.get(p, '?')} here, {made.get(p, '?')} in the band"
                         for p in ("tensorflow", "numpy"))
    return ("# what usually causes this for a run of the band's config: another TensorFlow or "
            f"numpy ({versions}), other MNIST data (python -m pytest tests/test_data.py checks "
            "it) or a changed line of train_rnn.py (git diff train_rnn.py); the run's '# seed' "
            "line repeats it exactly")


def header(c):
    """The '#' lines before the table: what is compared with what."""
    lines = [f"# this run: {c.run.path}"]
    if c.other:
        lines.append(f"# other run: {c.other.path}")
    else:
        where = (os.path.relpath(c.reference_path) if c.reference_path else
                 "no log was published for this config")
        lines.append(f"# reference: {c.reference_name} ({where})")
    band_of = ", ".join(bands.differences(c.band_cfg, published.PUBLISHED)) or "the tutorial"
    if c.edition and c.edition != bands.TUTORIAL_EDITION:
        band_of = f"edition {c.edition} ({band_of})"
    lines.append(f"# band: {os.path.relpath(c.band_path)}, {len(c.band['seeds'])} seeds of "
                 f"{band_of}")
    edition = bands.edition_of(c.run.cfg) or "none (a config of its own)"
    lines.append(f"# edition of this run: {edition} ({c.run.how})")
    for run in (c.run, c.other):
        if run and (other := c.differences(run)):   # e.g. another cell
            lines.append(f"# note: {run.path} is not the band's model ({', '.join(other)}); "
                         "the allowed spread is that of the band's seeds")
    return lines


def table(c, judged):
    """Side-by-side rows, '*' where the run falls outside. Against the band: the reference's
    numbers, the run's and the band's interval; --against: the run's, the other run's, their
    difference and the interval of the difference of two runs."""
    seeds = bands.seeds_at(c.band, c.steps, c.final)
    run = c.run.log.points(c.steps)
    ref = (c.reference.points(c.steps) if c.reference else
           np.array([[c.band[key]["mean"][c.band["steps"].index(s)] for s in c.steps]
                     for key in ("loss", "accuracy")]))
    stars = np.where(judged.verdict.inside, " ", "*")
    if c.other:
        half = rule.half_widths(seeds, pair=True)
        head = (f"{'step':>6} | {'this run':>15} | {'other run':>15} | {'difference':>17} | "
                f"{'allowed difference':>20}")
        sub = (f"{'':>6} | {'loss':>8} {'acc':>6} | {'loss':>8} {'acc':>6} | {'loss':>9} "
               f"{'acc':>7} | {'loss':>9} {'acc':>10}")
    else:
        lo, hi = rule.shown(*rule.intervals(seeds))
        label = "seeds' mean" if c.reference is None else "reference"
        head = (f"{'step':>6} | {label:>15} | {'this run':>15} | "
                f"{'band: 95% interval for one run':>31}")
        sub = (f"{'':>6} | {'loss':>8} {'acc':>6} | {'loss':>8} {'acc':>6} | "
               f"{'loss':>15} {'acc':>15}")
    rows = [head, sub, "-" * len(head)]
    for i, step in enumerate(c.steps):
        (loss, acc), (rloss, racc), (ml, ma) = run[:, i], ref[:, i], stars[:, i]
        if c.other:
            rows.append(f"{step:>6} | {loss:>8.4f} {acc:>6.3f} | {rloss:>8.4f} {racc:>6.3f} | "
                        f"{loss - rloss:>+8.4f}{ml} {acc - racc:>+6.3f}{ma} | "
                        f"+-{half[0, i]:>7.4f} {'+-':>4}{half[1, i]:>6.3f}")
        else:
            rows.append(f"{step:>6} | {rloss:>8.4f} {racc:>6.3f} | {loss:>7.4f}{ml} {acc:>5.3f}"
                        f"{ma} | {lo[0, i]:>6.3f} .. {hi[0, i]:<6.3f} "
                        f"{lo[1, i]:>5.3f} .. {hi[1, i]:<5.3f}")
    if (stars == "*").any():
        rows.append("(* the runs differ there more than two seeds do)" if c.other else
                    "(* outside the band's interval: a point that counts as outside)")
    return "\n".join(rows)


def plot(path, c):
    """Loss and accuracy panels: the band shaded, the reference and the run as lines; written
    to `path` (PNG) atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    band = c.band
    lows, highs = rule.shown(*rule.intervals(bands.seeds_at(band, band["steps"], final=False)))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (ax, key, label) in enumerate(zip(axes, ("loss", "accuracy"),
                                             ("minibatch loss", "training accuracy"))):
        ax.fill_between(band["steps"], lows[i], highs[i], color="tab:blue", alpha=0.18,
                        label=f"95% interval for one run, from {len(band['seeds'])} seeds")
        ax.plot(band["steps"], band[key]["mean"], color="tab:blue", lw=0.8, ls=":",
                label="seed mean" + (" (the reference)" if c.reference is None else ""))
        if c.reference is not None:
            ax.plot(c.reference.steps, c.reference.values(key), color="black", lw=1.2,
                    label=c.reference_name)
        ax.plot(c.run.log.steps, c.run.log.values(key), color="tab:red", lw=1.2,
                label=c.run.name)
        ax.set_xlabel("training step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{c.run.name} vs {c.reference_name}")
    fig.tight_layout()
    try:
        atomic.write_figure(path, fig, dpi=100)
    finally:
        plt.close(fig)
