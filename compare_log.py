"""Is my run the same as the tutorial's? Compare a log with the tutorial's and the seed band.

    python compare_log.py runs/NAME                   # a run folder, or a saved log
    python compare_log.py RUN.log --against B.log     # two runs of one config, with each other
    python compare_log.py RUN.log --plot out.png      # and draw it

One unseeded log can't be matched number for number, so the judgement comes from the spread of
many seeds of the run's own config: its seed band, which make_band.py makes and bands.py finds
(the tutorial's is reference/seed_band.json). A run with an edited config.py is judged by the
band of that config, with the seeds' mean as the reference when no log was published for it;
a run stopped or cut short is judged on the band's steps that it has.
The rule, stated once here and in the README:

    A point (the minibatch loss or the training accuracy at one display step) is inside when it
    lies in the seeds' 95% prediction interval for one more run, mean +- t * s * sqrt(1 + 1/n)
    (n seeds, s their standard deviation at that step, t Student's 97.5% quantile with n - 1
    degrees of freedom), widened by half the last printed digit. A run is consistent with the
    tutorial when at least 80% of its points are inside (MIN_INSIDE), its mean lead over the
    seeds' mean is at most 0.65 standard deviations either way (MAX_DRIFT, see drift()), and
    its final 128-image test accuracy is inside its own such interval, widened by half an
    image's share (1 / 256: it counts images) instead of the printing's rounding.
    With --against, two runs are compared the same way: their difference at each point must lie
    within t * s * sqrt(2), the spread of the difference of two runs, at 80% of the points; the
    mean lead of one over the other, in units of s * sqrt(2), at most 0.65; and the final
    accuracies' difference within its interval.

Where the seeds agree to the printed digit (every seed at accuracy 1.000, say), their spread is
0; the printing's rounding is the spread there.

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
import sys

import bands
import configurator
from bands import NOT_THE_MODEL, REFERENCE_BAND, REFERENCE_LOG

HERE = os.path.dirname(os.path.abspath(__file__))

# Share of points that must be inside (or, --against, agree). Each point alone is inside 95% of
# the time, but the points of one run are correlated (a slow seed is slow at every step), so
# the share varies from run to run. Chosen on the 20 band seeds and on runs made to differ
# (reference/power_runs: learning rate x2 and x1/2, 64 and 256 hidden units), see the README:
# genuine runs had 90-97% inside alone and 87-100% in pairs; the runs that differ had at most 72%
# alone. 80% lies in that gap; error_rates in the band file holds the rates.
MIN_INSIDE = 0.80
# Largest mean lead or lag allowed, in standard deviations (see drift()). Points inside their
# intervals can still all lean one way: 256 hidden units learn a little faster at every step,
# inside the intervals at about 70% of points alone and at up to 92% against a genuine seed. The
# mean signed difference sees it. Chosen on the same runs: genuine runs drifted at most 0.45
# alone and 0.59 in pairs; the runs that differ at least 1.43 alone and 0.72 against a seed.
MAX_DRIFT = 0.65
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
    try:
        with open(path) as f:
            band = json.load(f)
        band["steps"], band["seeds"], band["loss"]["std"], band["test_accuracy"]["mean"]
    except OSError as e:
        raise LogError(f"{path}: cannot read the band ({e.strerror}); make it with "
                       "python make_band.py") from None
    except (ValueError, KeyError, TypeError):
        raise LogError(f"{path}: not a seed band file; make it with python make_band.py") from None
    if len(band["seeds"]) < 2:
        raise LogError(f"{path}: a band needs at least 2 seeds, it has {len(band['seeds'])}; "
                       "make it again with python make_band.py --seeds 10")
    return band


# ---------------------------------------------------------------------------------------------
# The band as intervals, and the verdict

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


def t975(df):
    """Student's t 97.5% quantile: a table up to 5 degrees of freedom, then the Cornish-Fisher
    expansion (Abramowitz & Stegun 26.7.5), within 0.002 from df = 6 on."""
    if df < 6:
        return {1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 5: 2.5706}[df]
    z = 1.959964
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def interval(mean, std, n, rounding, against=False):
    """The rule's interval: half-width of one more run around the seeds' mean (or, `against`,
    the allowed difference of two runs), widened by the printing's rounding."""
    spread = math.sqrt(2) if against else math.sqrt(1 + 1 / n)
    half = t975(n - 1) * std * spread + rounding
    return mean - half, mean + half


def rounding(band):
    """How finely each value of a band's logs is resolved: half the last printed digit of the
    loss and the training accuracy (ROUNDING); half of one image's share, 1 / (2 * test_len), for
    the final test accuracy, which counts correct images (the continuity correction)."""
    test_len = bands.band_config(band)["test_len"]
    return dict(ROUNDING[band.get("format", "step")], test_accuracy=0.5 / test_len)


def band_intervals(band, key, against=False):
    """Per display step, the rule's interval for `key` (loss or accuracy)."""
    n = len(band["seeds"])
    return [interval(m, s, n, rounding(band)[key], against)
            for m, s in zip(band[key]["mean"], band[key]["std"])]


def drift(run, band, against=None):
    """The run's mean lead over the seeds' mean (or over the other run), in standard deviations:
    the average over the display steps but step 1 (which shows the initial weights, not the
    training) of (mean - value) / (s * sqrt(1 + 1/n)) for the loss and (value - mean) / (same)
    for the accuracy; with `against`, of the difference to the other run over s * sqrt(2).
    Positive: learning faster than the seeds (or the other run). Where the seeds' spread is 0
    (they agree to the printed digit), the rounding stands for it. Needs a step after step 1."""
    n = len(band["seeds"])
    spread = math.sqrt(2) if against is not None else math.sqrt(1 + 1 / n)
    leads = []
    for key, sign in (("loss", -1), ("accuracy", 1)):
        others = against[key] if against is not None else band[key]["mean"]
        floor = rounding(band)[key]
        for step, value, other, std in zip(run["steps"], run[key], others, band[key]["std"]):
            if step != 1:
                leads.append(sign * (value - other) / (max(std, floor) * spread))
    return sum(leads) / len(leads)


def share_inside(run, band):
    """The share of the run's points inside the band's intervals."""
    _, marks, _ = verdict(run, band)
    return sum(map(sum, marks.values())) / sum(map(len, marks.values()))


def at_steps(band, steps):
    """The band at `steps`, some of its display steps: those a run has (a run stopped or cut
    short, or a run of another edition, whose display steps are other ones)."""
    keep = [band["steps"].index(s) for s in steps]
    cut = dict(band, steps=list(steps), test_step=band["steps"][-1])
    for key in ("loss", "accuracy"):
        cut[key] = {stat: [values[i] for i in keep] for stat, values in band[key].items()}
    return cut


def points_at(log, steps):
    """A log's points at `steps`, some of its display steps."""
    keep = [log["steps"].index(s) for s in steps]
    return dict(log, steps=list(steps), **{key: [log[key][i] for i in keep]
                                           for key in ("loss", "accuracy")})


def verdict(run, band, against=None, judge_test=True, name="the tutorial"):
    """Judge `run` by the rule in the module docstring.

    Against the band (default): each point must lie in its interval. Against another run
    (`against`): each point must differ from that run's by no more than the spread of the
    difference of two seeds. `judge_test`: False for a run that stops before the band's last
    step, whose final test accuracy is not the band's to judge. `name`: what the band stands
    for, in the verdict ("consistent with the tutorial").

    Returns:
        (consistent: bool, marks: {key: [bool per step]}, lines: list of verdict text lines)
    """
    marks, inside, total = {}, 0, 0
    for key in ("loss", "accuracy"):
        if against is None:
            ok = [lo <= v <= hi for v, (lo, hi) in zip(run[key], band_intervals(band, key))]
        else:
            ok = [abs(v - w) <= (hi - lo) / 2 for v, w, (lo, hi)
                  in zip(run[key], against[key], band_intervals(band, key, against=True))]
        marks[key] = ok
        inside, total = inside + sum(ok), total + len(ok)
    t = band["test_accuracy"]
    lo, hi = interval(t["mean"], t["std"], len(band["seeds"]), rounding(band)["test_accuracy"],
                      against is not None)
    if not judge_test:
        test_ok = True
        test_line = (f"final test accuracy: not judged (the band's is at step "
                     f"{band.get('test_step', band['steps'][-1])}, this comparison stops at "
                     f"step {run['steps'][-1]})")
    elif against is None:
        test_ok = lo <= run["test_accuracy"] <= hi
        test_line = (f"final test accuracy (first 128 images): {run['test_accuracy']:.4f}, "
                     f"interval {lo:.4f} .. {hi:.4f} -> {'inside' if test_ok else 'OUTSIDE'}")
    else:
        diff = abs(run["test_accuracy"] - against["test_accuracy"])
        test_ok = diff <= (hi - lo) / 2
        test_line = (f"final test accuracy (first 128 images): {run['test_accuracy']:.4f} vs "
                     f"{against['test_accuracy']:.4f}, difference {diff:.4f}, allowed "
                     f"{(hi - lo) / 2:.4f} -> {'inside' if test_ok else 'OUTSIDE'}")
    share = inside / total
    if against is None:
        lines = [f"points inside the band: {inside} of {total} ({share:.0%}; the rule needs "
                 f"{MIN_INSIDE:.0%})", test_line]
    else:
        lines = [f"points where the two runs differ by no more than two seeds do: {inside} of "
                 f"{total} ({share:.0%}; the rule needs {MIN_INSIDE:.0%})", test_line]
    lead = drift(run, band, against)
    drift_ok = abs(lead) <= MAX_DRIFT
    lines.insert(1, f"mean lead over {'the other run' if against else 'the seeds'}: {lead:+.2f} "
                    f"sd (the rule allows +-{MAX_DRIFT}) -> {'inside' if drift_ok else 'OUTSIDE'}")
    why = []
    if share < MIN_INSIDE:
        outside = [s for key in marks for s, ok in zip(run["steps"], marks[key]) if not ok]
        why.append(f"{total - inside} of {total} points outside the band "
                   f"(from step {min(outside)})" if against is None else
                   f"the runs differ by more than two seeds do at {total - inside} of {total} "
                   f"points (from step {min(outside)})")
    if not drift_ok:
        why.append(f"{'ahead of' if lead > 0 else 'behind'} "
                   f"{'the seeds' if against is None else 'the other run'} by {abs(lead):.2f} sd "
                   "on average")
    if not test_ok:
        why.append("final test accuracy outside its band" if against is None else
                   "final test accuracies differ by more than two seeds' do")
    lines.append(f"consistent with {name}" if not why and against is None else
                 "consistent with the other run" if not why else
                 "not consistent: " + "; ".join(why))
    return not why, marks, lines


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
    consistent, _, lines = verdict(points_at(run, steps), at_steps(band, steps),
                                   judge_test=full, name=name)
    return consistent, lines, steps


def table(run, ref, band, marks, against=False, ref_label="reference"):
    """Side-by-side rows, '*' where the run falls outside. Against the band: the reference's
    numbers, the run's and the band's interval; `against`: the run's, the other run's, their
    difference and the interval of the difference of two runs."""
    if against:
        spans = [band_intervals(band, key, against=True) for key in ("loss", "accuracy")]
        head = (f"{'step':>6} | {'this run':>15} | {'other run':>15} | {'difference':>17} | "
                f"{'allowed difference':>20}")
        sub = (f"{'':>6} | {'loss':>8} {'acc':>6} | {'loss':>8} {'acc':>6} | {'loss':>9} "
               f"{'acc':>7} | {'loss':>9} {'acc':>10}")
    else:
        spans = [band_intervals(band, key) for key in ("loss", "accuracy")]
        head = (f"{'step':>6} | {ref_label:>15} | {'this run':>15} | "
                f"{'band: 95% interval for one run':>31}")
        sub = (f"{'':>6} | {'loss':>8} {'acc':>6} | {'loss':>8} {'acc':>6} | "
               f"{'loss':>15} {'acc':>15}")
    rows = [head, sub, "-" * len(head)]
    for i, step in enumerate(run["steps"]):
        mark = {key: " " if marks[key][i] else "*" for key in marks}
        (llo, lhi), (alo, ahi) = spans[0][i], spans[1][i]
        if against:
            dl, da = run["loss"][i] - ref["loss"][i], run["accuracy"][i] - ref["accuracy"][i]
            rows.append(f"{step:>6} | {run['loss'][i]:>8.4f} {run['accuracy'][i]:>6.3f} | "
                        f"{ref['loss'][i]:>8.4f} {ref['accuracy'][i]:>6.3f} | "
                        f"{dl:>+8.4f}{mark['loss']} {da:>+6.3f}{mark['accuracy']} | "
                        f"+-{(lhi - llo) / 2:>7.4f} {'+-':>4}{(ahi - alo) / 2:>6.3f}")
        else:
            rows.append(f"{step:>6} | {ref['loss'][i]:>8.4f} {ref['accuracy'][i]:>6.3f} | "
                        f"{run['loss'][i]:>7.4f}{mark['loss']} {run['accuracy'][i]:>5.3f}"
                        f"{mark['accuracy']} | {llo:>6.3f} .. {lhi:<6.3f} {alo:>5.3f} .. "
                        f"{ahi:<5.3f}")
    return "\n".join(rows)


def plot(path, run, ref, band, run_name, ref_name):
    """Loss and accuracy panels: the band shaded, the reference and the run as lines."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in zip(axes, ("loss", "accuracy"), ("minibatch loss", "training accuracy")):
        lo, hi = zip(*band_intervals(band, key))
        ax.fill_between(band["steps"], lo, hi, color="tab:blue", alpha=0.18,
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


def band_caution(band, against=False):
    """A '#' line when the band's own seeds fail this rule more often than 5% (its measured
    error_rates: single runs, or pairs for --against), else None. The thresholds were chosen on
    the tutorial's 51 display steps and 20 seeds; a band of few steps or seeds may not hold them."""
    rates = band.get("error_rates")
    if not rates:
        return None
    share, kind = ((rates["pairs_rejected"], f"{len(rates['pairs_rejected_seeds'])} of its "
                    f"{rates['pairs']} pairs of seeds") if against else
                   (rates["single_run_rejected"], f"{len(rates['single_runs_rejected'])} of its "
                    f"own {rates['single_runs']} seeds"))
    if share <= 0.05:
        return None
    return (f"# caution: by this rule the band rejects {kind} ({share:.0%}), genuine runs; a "
            "verdict against it is weak evidence. More seeds (make_band.py --seeds 20) or more "
            "display steps (a smaller display_step) make a band that judges better")


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

    cut = at_steps(band, steps)
    run_k = points_at(run, steps)
    ref_k = points_at(ref, steps) if ref else dict(
        steps=cut["steps"], loss=cut["loss"]["mean"], accuracy=cut["accuracy"]["mean"])
    differs = bands.model_differences(run_cfg, band_cfg)
    name = ("the tutorial" if ref_name == "tutorial" else
            f"the {band_edition} edition" if band_edition not in (None, bands.TUTORIAL_EDITION)
            else "this band" if differs else "the band of its config")
    consistent, marks, lines = verdict(run_k, cut, ref_k if args.against else None,
                                       judge_test=full, name=name)
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
    print(table(run_k, ref_k, cut, marks, against=bool(args.against),
                ref_label="seeds' mean" if ref is None else "reference"))
    print()
    print("\n".join(lines))
    caution = band_caution(band, bool(args.against))
    if caution:
        print(caution)
    if not consistent and (differs or not caution):   # a weak band: the caution says why
        print(advice(differs, band))
    if args.plot:
        plot(args.plot, run, ref, band, os.path.basename(os.path.normpath(args.run)), ref_name)
        print(f"# plot written to {args.plot}")
    return 0 if consistent else 1


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
