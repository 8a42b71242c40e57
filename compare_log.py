"""Is my run the same as the tutorial's? Compare a log with the tutorial's and the seed band.

    python compare_log.py runs/NAME                   # a run folder, or a saved log
    python compare_log.py RUN.log --against B.log     # two runs of one config, with each other
    python compare_log.py RUN.log --plot out.png      # and draw it

One unseeded log can't be matched number for number, so the judgement comes from the spread of
many seeds of the run's own config: its seed band, which make_band.py makes and bands.py finds
(the tutorial's is reference/seed_band.json). A run with an edited config.py is judged by the
band of that config, with the seeds' mean as the reference when no log was published for it;
a run stopped or cut short is judged on the band's steps that it has.
The rule (lstm_mnist/rule.py) takes every limit from the band's own seeds at exactly the steps
judged, so a run of 400 steps is judged as fairly as a full one: the points outside the seeds'
95% prediction intervals, counted against what the seeds themselves show; the mean lead over
the seeds' mean, against the spread of the seeds' own leads; the final test accuracy as a count
of wrong images, against a count model fitted to the seeds'. With --against, the same on the
two runs' differences. Each verdict line says its limit and where it came from, and a '#' line
says how often this rule rejects the band's own seeds at those steps.

Exit status: 0 consistent, 1 not consistent (a diverged run included), 2 cannot judge: bad
input, or no band for the run's config (the message prints the command that makes it).
"""
import argparse
import contextlib
import importlib.metadata
import json
import math
import os
import re
import shlex
import sys

import numpy as np

import bands
import configurator
from bands import NOT_THE_MODEL, REFERENCE_BAND, REFERENCE_LOG
from lstm_mnist import rule

HERE = os.path.dirname(os.path.abspath(__file__))

# half of the last digit each value is printed with: the rounding every log carries ("iter":
# the January 2017 edition's lines, with more digits)
ROUNDING = {"step": {"loss": 0.00005, "accuracy": 0.0005},
            "iter": {"loss": 0.0000005, "accuracy": 0.000005}}

# a display line: August 2017's "Step N", or January 2017's "Iter N" (N = step * batch_size)
LINE_RE = re.compile(r"^(Step|Iter) (\d+), Minibatch Loss= ([-+0-9.eE]+|nan|inf), "
                     r"Training Accuracy= ([0-9.]+)\s*$")
TEST_RE = re.compile(r"^Testing Accuracy: ([0-9.eE-]+)\s*$")
FULL_RE = re.compile(r"^# Testing Accuracy on all (\d+) test images: ([0-9.]+)\s*$")
DIVERGED_RE = re.compile(r"^# diverged: (.*?at step (\d+).*)$")


class LogError(Exception):
    """The log can't be read as a run of the tutorial; the message says why."""


def parse_log(text, name="log", complete=True, batch_size=128):
    """The tutorial's lines in `text`, everything else ignored: the August 2017 edition's
    `Step N` lines, or the January 2017 edition's `Iter N` lines (N = step * batch_size).

    Returns:
        dict: format ("step" or "iter"), steps, loss, accuracy (lists, one entry a display
        step; steps are training steps in both formats), test_accuracy (the tutorial's
        first-128 accuracy; None for a log that stops before it), test_accuracy_full (all test
        images, or None), diverged ("diverged at step N (why)", or None).
    Raises:
        LogError: no Step or Iter lines, both kinds, duplicated or missing steps, or
        (`complete`) no final accuracy line.
    """
    steps, loss, accuracy, formats = [], [], [], set()
    test_accuracy = full = diverged = None
    for line in text.splitlines():
        if m := LINE_RE.match(line):
            formats.add(m[1])
            count = int(m[2])
            if m[1] == "Iter":
                if count % batch_size:
                    raise LogError(f"{name}: 'Iter {count}' is not a multiple of the batch size "
                                   f"{batch_size}; is it a log of this tutorial?")
                count //= batch_size
            steps.append(count)
            loss.append(float(m[3]))
            accuracy.append(float(m[4]))
            if not math.isfinite(loss[-1]) and not diverged:
                diverged = f"diverged at step {count} (the loss became {m[3]})"
        elif m := TEST_RE.match(line):
            test_accuracy = float(m[1])
        elif m := FULL_RE.match(line):
            full = float(m[2])
        elif m := DIVERGED_RE.match(line):
            diverged = f"diverged at step {m[2]} ({m[1].split(' at step')[0]})"
    if not steps:
        raise LogError(f"{name}: no 'Step N, Minibatch Loss= ...' (or 'Iter N, ...') lines; is "
                       "it a log of train_rnn.py?")
    if len(formats) > 1:
        raise LogError(f"{name}: it has both 'Step' and 'Iter' lines; use the log of one run")
    if len(set(steps)) != len(steps):
        dup = next(s for s in steps if steps.count(s) > 1)
        raise LogError(f"{name}: step {dup} appears more than once; use the log of one run")
    fmt = "step" if formats == {"Step"} else "iter"
    if fmt == "step":   # at step 1, then every display_step
        display = steps[1] if len(steps) > 1 else None
        expected = [1] + [display * k for k in range(1, len(steps))] if display else [1]
    else:               # every display_step, from display_step on
        display = steps[0]
        expected = [display * k for k in range(1, len(steps) + 1)]
    if steps != expected:
        gap = next(e for s, e in zip(steps, expected) if s != e)
        first = [1, display, 2 * (display or 0)] if fmt == "step" else \
            [display, 2 * display, 3 * display]
        raise LogError(f"{name}: steps don't follow {', '.join(map(str, first))}, ...: "
                       f"step {gap} is missing or out of order")
    if test_accuracy is None and complete:
        if diverged:
            raise LogError(f"{name}: the run {diverged}")
        raise LogError(f"{name}: no 'Testing Accuracy:' line; the log is truncated "
                       f"(last step {steps[-1]}), let the run finish")
    return dict(format=fmt, steps=steps, loss=loss, accuracy=accuracy,
                test_accuracy=test_accuracy, test_accuracy_full=full, diverged=diverged)


def read_log(path, complete=True, batch_size=128):
    """parse_log on a file, or on a run folder's log.txt; LogError when missing or unreadable."""
    if os.path.isdir(path):
        path = os.path.join(path, "log.txt")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise LogError(f"{path}: cannot read ({e.strerror})") from None
    if not raw.strip():
        raise LogError(f"{path}: the file is empty")
    return parse_log(raw.decode("utf-8", errors="replace"), path, complete, batch_size)


def read_band(path):
    """A band file, checked: its steps, seeds and each seed's values (which the rule needs)."""
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
                       f"it again with: {shlex.join(['python', 'make_band.py', *band_command(band)])}"
                       " (the seeds' logs are kept: nothing trains again)")
    return band


def band_command(band):
    """make_band.py's arguments that made `band` (for the band of the run's config)."""
    args = band.get("train_args", [])
    edition = args[:1] if args and not args[0].startswith("-") else []
    rest = args[len(edition):]
    return [*edition, "--seeds", str(len(band["seeds"])), *(["--", *rest] if rest else [])]


# ---------------------------------------------------------------------------------------------
# The band as the rule sees it, and the verdict

def percentile(values, q):
    """The q-th percentile with linear interpolation (numpy's default), in plain Python."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(values):
    """mean, sample std (n - 1), min, max and the 2.5/97.5 percentiles of a list of numbers."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "min": min(values), "max": max(values),
            "p2.5": percentile(values, 2.5), "p97.5": percentile(values, 97.5)}


def test_len(band):
    return bands.band_config(band)["test_len"]


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
    fmt = band.get("format", "step")
    return rule.Seeds(tuple(steps), points, wrong, n,
                      (ROUNDING[fmt]["loss"], ROUNDING[fmt]["accuracy"]))


def points_at(log, steps):
    """A log's points at `steps` (some of its display steps): (2, k), loss then accuracy."""
    keep = [log["steps"].index(s) for s in steps]
    return np.array([[log[key][i] for i in keep] for key in ("loss", "accuracy")])


def verdict(run, band, steps, final=True, against=None, name="the tutorial"):
    """Judge `run` (a parsed log) by the rule against `band` at `steps`, or, `against`, with
    another run of its config. `final`: the final test accuracy is judged (the runs end where
    the band's seeds did).

    Returns:
        (rule.Verdict, the verdict's lines: one a check, then "consistent with ..." or
        "not consistent: ...")
    """
    seeds = seeds_at(band, steps, final)
    n = test_len(band)
    wrong = wrong_images(run["test_accuracy"], n) if final else None
    if against is None:
        judged = rule.judge(points_at(run, steps), seeds, wrong)
    else:
        judged = rule.judge_pair(points_at(run, steps), points_at(against, steps), seeds, wrong,
                                 wrong_images(against["test_accuracy"], n) if final else None)
    lines = [check.line for check in judged.checks]
    if not final:
        lines.append(f"final test accuracy: not judged (the band's is at step "
                     f"{band['steps'][-1]}, this comparison stops at step {steps[-1]})")
    other = "the other run" if against is not None else name
    lines.append(f"consistent with {other}" if judged.consistent else
                 f"not consistent: {judged.why}")
    return judged, lines


def shared_steps(logs, band):
    """The display steps that all `logs` (the run first) and the band have, and whether the final
    accuracy is judged: all steps for a run of the band's config, the first ones for a run cut
    short, a few for a run of another edition; the final accuracy only when the runs end where
    the band's seeds did. LogError when they share no step that shows training (step 1 does
    not)."""
    steps = [s for s in band["steps"] if all(s in log["steps"] for log in logs)]
    if not [s for s in steps if s != 1]:
        if logs[0]["steps"] == [1]:
            raise LogError("it stops at step 1, before any training shows; let it train to step "
                           f"{band['steps'][1]} at least")
        raise LogError(f"its display steps ({show(logs[0]['steps'])}) share none with the band's "
                       f"({show(band['steps'])}) or the reference's; give a band of its config, "
                       "or drop --band and --edition")
    full = (steps[-1] == band["steps"][-1]
            and all(log["test_accuracy"] is not None for log in logs))
    return steps, full


def judge(run, band, name="the band"):
    """verdict() of `run` against `band` on the steps they share (shared_steps).
    Returns (consistent, verdict lines, the steps judged)."""
    steps, full = shared_steps([run], band)
    judged, lines = verdict(run, band, steps, full, name=name)
    return judged.consistent, lines, steps


def how_sure(band, steps, final, against=False):
    """A '#' line: how often this rule rejects the band's own seeds at `steps` (each seed against
    the others; with `against`, each pair of seeds), and the highest rate so few trials can't
    rule out; when the rate is over 5%, a caution and the command that makes a better band."""
    rates = rule.error_rates(seeds_at(band, steps, final), pairs=against)
    if against:
        rejected, total = len(rates.pairs), rates.pair_count
        what = f"{rejected} of its {total} pairs of seeds, each pair judged against the rest"
    else:
        rejected, total = len(rates.single), rates.singles
        what = f"{rejected} of its {total} seeds, each judged against the others"
    line = (f"# how sure: at these {len(steps)} display steps this rule rejects {what} (so few "
            f"can't rule out a rate of {rule.upper_bound(rejected, total):.0%} for genuine runs)")
    if rejected > 0.05 * total:
        more = dict(band, seeds=[0] * max(20, 2 * len(band["seeds"])))
        line += (". Caution: a verdict against this band is weak evidence; more seeds make a band"
                 f" that judges better: python make_band.py {shlex.join(band_command(more))}")
    return line


def table(run, ref, seeds, judged, against=False, ref_label="reference"):
    """Side-by-side rows, '*' where the run falls outside. Against the band: the reference's
    numbers, the run's and the band's interval; `against`: the run's, the other run's, their
    difference and the interval of the difference of two runs."""
    marks = {key: judged.inside[i] for i, key in enumerate(("loss", "accuracy"))}
    if against:
        half = rule.half_widths(seeds, pair=True)
        head = (f"{'step':>6} | {'this run':>15} | {'other run':>15} | {'difference':>17} | "
                f"{'allowed difference':>20}")
        sub = (f"{'':>6} | {'loss':>8} {'acc':>6} | {'loss':>8} {'acc':>6} | {'loss':>9} "
               f"{'acc':>7} | {'loss':>9} {'acc':>10}")
    else:
        lo, hi = rule.intervals(seeds)
        head = (f"{'step':>6} | {ref_label:>15} | {'this run':>15} | "
                f"{'band: 95% interval for one run':>31}")
        sub = (f"{'':>6} | {'loss':>8} {'acc':>6} | {'loss':>8} {'acc':>6} | "
               f"{'loss':>15} {'acc':>15}")
    rows = [head, sub, "-" * len(head)]
    for i, step in enumerate(run["steps"]):
        mark = {key: " " if marks[key][i] else "*" for key in marks}
        if against:
            dl, da = run["loss"][i] - ref["loss"][i], run["accuracy"][i] - ref["accuracy"][i]
            rows.append(f"{step:>6} | {run['loss'][i]:>8.4f} {run['accuracy'][i]:>6.3f} | "
                        f"{ref['loss'][i]:>8.4f} {ref['accuracy'][i]:>6.3f} | "
                        f"{dl:>+8.4f}{mark['loss']} {da:>+6.3f}{mark['accuracy']} | "
                        f"+-{half[0, i]:>7.4f} {'+-':>4}{half[1, i]:>6.3f}")
        else:
            rows.append(f"{step:>6} | {ref['loss'][i]:>8.4f} {ref['accuracy'][i]:>6.3f} | "
                        f"{run['loss'][i]:>7.4f}{mark['loss']} {run['accuracy'][i]:>5.3f}"
                        f"{mark['accuracy']} | {lo[0, i]:>6.3f} .. {hi[0, i]:<6.3f} "
                        f"{lo[1, i]:>5.3f} .. {hi[1, i]:<5.3f}")
    return "\n".join(rows)


def plot(path, run, ref, band, run_name, ref_name):
    """Loss and accuracy panels: the band shaded, the reference and the run as lines."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seeds = seeds_at(band, band["steps"], final=False)
    lows, highs = rule.intervals(seeds)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (ax, key, label) in enumerate(zip(axes, ("loss", "accuracy"),
                                             ("minibatch loss", "training accuracy"))):
        ax.fill_between(band["steps"], lows[i], highs[i], color="tab:blue", alpha=0.18,
                        label=f"95% interval for one run, from {len(band['seeds'])} seeds")
        ax.plot(band["steps"], band[key]["mean"], color="tab:blue", lw=0.8, ls=":",
                label="seed mean" + (" (the reference)" if ref is None else ""))
        if ref is not None:
            ax.plot(ref["steps"], ref[key], color="black", lw=1.2, label=ref_name)
        ax.plot(run["steps"], run[key], color="tab:red", lw=1.2, label=run_name)
        ax.set_xlabel("training step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{run_name} vs {ref_name}")
    fig.tight_layout()
    fd_dir = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(fd_dir, f".tmp-{os.getpid()}-{os.path.basename(path)}")
    try:
        fig.savefig(tmp, format="png", dpi=100)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)


def advice(differs, band):
    """What to do after "not consistent": the likely causes and how to check them. `differs`:
    how the run's config differs from the band's."""
    if differs:
        return (f"# expected: this run's config differs from the band's ({', '.join(differs)}); "
                "judge it by its own config's band: drop --band (or --edition), and "
                "compare_log.py finds it or prints the command that makes it")
    made = band.get("versions", {})
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


def find_band(path, run_cfg, how, last_step):
    """The band of the run's config reaching `last_step`, or LogError naming the command that
    makes it."""
    band_path = bands.find_band(run_cfg, last_step)
    if band_path is None:
        differs = ", ".join(bands.differences(run_cfg, configurator.PUBLISHED))
        raise LogError(f"{path}: no seed band for its config ({differs or 'the tutorial'}; "
                       f"{how}) reaching step {last_step}; make it (10 runs) with: "
                       f"{bands.make_band_command(run_cfg)}, then run this command again")
    return band_path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="compare_log.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a log of train_rnn.py: its saved stdout, or a run folder "
                        "(runs/NAME, whose log.txt is read)")
    parser.add_argument("--against", help="another run of the same config to compare with, "
                        "instead of the reference")
    parser.add_argument("--edition", help="judge against this published edition's band ("
                        f"{', '.join(bands.editions())}); for a log without its '# seed' line, "
                        "the edition it is a log of (default: Step lines are the tutorial's, "
                        "Iter lines its January 2017 edition's)")
    parser.add_argument("--reference", help="the reference log (default: the one published for "
                        "the band's config, the tutorial's; else the seeds' mean)")
    parser.add_argument("--band", help="the seed band (default: the band of the run's config, "
                        "found among reference/ and bands/)")
    parser.add_argument("--plot", metavar="PNG", help="also draw the comparison into this file")
    args = parser.parse_args(argv)
    try:
        if args.edition and args.edition not in bands.editions():
            raise LogError(f"--edition {args.edition}: no such edition; the editions are "
                           f"{', '.join(bands.editions())}")
        if args.plot:
            folder = os.path.dirname(os.path.abspath(args.plot))
            if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
                raise LogError(f"--plot {args.plot}: its folder does not exist or is not "
                               "writable; give a PNG path in a writable folder")
            if os.path.isdir(args.plot):
                raise LogError(f"--plot {args.plot} is a folder; give a file name such as "
                               "compare.png")
        run, run_cfg, how = read_run(args.run, args.edition)
        if run["diverged"]:
            print(f"# this run: {args.run}\nnot consistent: {run['diverged']}\n# a diverged run "
                  "is not the tutorial's: lower --learning_rate, and see the run's log")
            return 1
        judged, configs = [run], [run_cfg]
        if args.against:
            other, other_cfg, _ = read_run(args.against, args.edition)
            differs = [f"{k}={run_cfg[k]} vs {other_cfg[k]}" for k in bands.model_config(run_cfg)
                       if k != "training_steps" and run_cfg[k] != other_cfg[k]]
            if differs:
                raise LogError(f"{args.run} and {args.against} are runs of different configs "
                               f"({', '.join(differs)}); --against compares two runs of one "
                               "config")
            if other["diverged"]:
                raise LogError(f"{args.against}: the other run {other['diverged']}")
            judged.append(other)
            configs.append(other_cfg)
        last = max(log["steps"][-1] for log in judged)
        band_path = (args.band or args.edition and bands.edition_band(args.edition)[0]
                     or find_band(args.run, run_cfg, how, last))
        band = read_band(band_path)
        band_cfg = bands.band_config(band)
        band_edition = band.get("edition") or bands.edition_of(band_cfg)
        if args.against:
            ref, ref_name = judged[1], os.path.basename(os.path.normpath(args.against))
        elif args.reference or band.get("reference"):
            ref_path = args.reference or os.path.join(HERE, band["reference"])
            ref = read_log(ref_path, batch_size=band_cfg["batch_size"])
            ref_name = ("tutorial" if ref_path == REFERENCE_LOG else
                        f"{band_edition} as published" if band.get("reference")
                        and not args.reference else os.path.basename(ref_path))
        else:   # no published log for this config: the seeds' mean is the reference
            ref, ref_name = None, "seeds' mean"
        try:
            steps, full = shared_steps(judged + ([ref] if ref else []), band)
        except LogError as e:
            raise LogError(f"{args.run}: {e}") from None
    except LogError as e:
        parser.exit(2, f"compare_log.py: error: {e}\n")

    differs = bands.model_differences(run_cfg, band_cfg)
    name = ("the tutorial" if ref_name == "tutorial" else
            f"the {band_edition} edition" if band_edition not in (None, bands.TUTORIAL_EDITION)
            else "this band" if differs else "the band of its config")
    judged, lines = verdict(run, band, steps, full, other if args.against else None, name)
    if steps != band["steps"]:
        lines[-1] += (f" (judged on steps {steps[0]}..{steps[-1]}: {len(steps)} of the band's "
                      f"{len(band['steps'])} display steps)")
    if args.against:
        print(f"# this run: {args.run}\n# other run: {args.against}")
    else:
        print(f"# this run: {args.run}\n# reference: {ref_name} "
              f"({os.path.relpath(ref_path) if ref else 'no log was published for this config'})")
    band_of = ", ".join(bands.differences(band_cfg, configurator.PUBLISHED)) or "the tutorial"
    if band_edition and band_edition != bands.TUTORIAL_EDITION:
        band_of = f"edition {band_edition} ({band_of})"
    print(f"# band: {os.path.relpath(band_path)}, {len(band['seeds'])} seeds of {band_of}")
    run_edition = bands.edition_of(run_cfg)
    print(f"# edition of this run: {run_edition or 'none (a config of its own)'} ({how})")
    for path, cfg in zip((args.run, args.against), configs):
        if other := bands.model_differences(cfg, band_cfg):   # e.g. another cell
            print(f"# note: {path} is not the band's model ({', '.join(other)}); the allowed "
                  "spread is that of the band's seeds")
    run_k = dict(run, steps=steps, **dict(zip(("loss", "accuracy"), points_at(run, steps))))
    ref_k = (dict(ref, steps=steps, **dict(zip(("loss", "accuracy"), points_at(ref, steps))))
             if ref else dict(steps=steps, loss=[band["loss"]["mean"][band["steps"].index(s)]
                                                 for s in steps],
                              accuracy=[band["accuracy"]["mean"][band["steps"].index(s)]
                                        for s in steps]))
    print(table(run_k, ref_k, seeds_at(band, steps, full), judged, against=bool(args.against),
                ref_label="seeds' mean" if ref is None else "reference"))
    print()
    print("\n".join(lines))
    sure = how_sure(band, steps, full, bool(args.against))
    print(sure)
    if not judged.consistent and (differs or "Caution" not in sure):   # a weak band: said why
        print(advice(differs, band))
    if args.plot:
        plot(args.plot, run, ref, band, os.path.basename(os.path.normpath(args.run)), ref_name)
        print(f"# plot written to {args.plot}")
    return 0 if judged.consistent else 1


def read_run(path, edition=None):
    """(log, config dict, how the config was found) of a run folder or log file. `edition`:
    what a log without its '# seed' line is a log of (bands.run_config)."""
    cfg, how = bands.run_config(path)   # its batch size counts an Iter log's steps
    log = read_log(path, complete=False, batch_size=cfg["batch_size"])
    return (log, *bands.run_config(path, log, edition))


def show(steps):
    return f"{steps[0]}..{steps[-1]}" + (f" every {steps[2] - steps[1]}" if len(steps) > 2
                                          else "")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("compare_log.py: interrupted", file=sys.stderr)
        sys.exit(130)
