"""The tables the README and docs/ show, rebuilt from the committed seeds (make_band.py
--all-editions and --rates): the editions and their published logs' verdicts, which edition's
band accepts which runs, and the rule's false-rejection rates and power at each run length.
"""
import dataclasses
import datetime
import glob
import os

from lstm_mnist import ROOT, bands, compare, published, rule, seed_runs, tutorial_log

RATE_LENGTHS = (200, 400, 1000, 2000, 5000)   # and each band's full length
RATES_FILE = os.path.join(ROOT, "reference", "rule_rates.json")
HELD_OUT = range(21, 41)   # the tutorial's seeds that the rule's constants were not chosen on


# ---------------------------------------------------------------------------------------------
# The editions

def editions_table(made):
    """The table of editions (markdown) from {edition: its band}: the published final accuracy,
    the seeds' mean and range, the published log's verdict, the rule's error rates."""
    rows = ["| edition | published final accuracy | our seeds: mean (min .. max) | "
            "published log's verdict | rule's error rates: single runs, pairs |",
            "| --- | --- | --- | --- | --- |"]
    for name, band in made.items():
        published = bands.published_log(name)
        t = band["test_accuracy"]
        if published:
            log = tutorial_log.read(published, batch_size=bands.edition_config(name)["batch_size"])
            judged = compare.judge_log(log, band)
            said = "consistent" if judged.consistent else judged.lines[-1]
            final = f"{log.test_accuracy}"
        else:
            said, final = "(no log published here)", "-"
        rates = band["error_rates"]
        rows.append(f"| {name} | {final} | {t['mean']:.4f} ({t['min']:.4f} .. {t['max']:.4f}), "
                    f"{len(band['seeds'])} seeds | {said} | "
                    f"{rates['single_run_rejected']:.0%} of {rates['single_runs']}, "
                    f"{rates['pairs_rejected']:.1%} of {rates['pairs']} |")
    return "\n".join(rows)


def separation_table(made, logs):
    """Can the rule tell the editions apart? (markdown) For each edition's runs (its seeds, and
    its published log), how many each edition's band judges consistent, on the display steps
    they share; a seed is judged against the band of its own edition's other seeds."""
    names = list(made)
    rows = ["| runs \\ band of | " + " | ".join(names) + " |",
            "| --- |" + " --- |" * len(names)]
    for name in names:
        runs = [(f"{len(logs[name])} seeds of {name}", logs[name])]
        if published := bands.published_log(name):
            batch = bands.edition_config(name)["batch_size"]
            runs.append((f"{name}, published log", [tutorial_log.read(published,
                                                                      batch_size=batch)]))
        for label, judged in runs:
            cells = [f"{accepted(judged, made[other], logs[name] if other == name else None)} "
                     f"of {len(judged)}" for other in names]
            rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def accepted(judged, band, own=None):
    """How many of `judged` (logs) the band accepts; `own`: the band's own seeds' logs when
    `judged` are they (each is then judged against the band of the others)."""
    count = 0
    for i, log in enumerate(judged):
        if own is not None and len(judged) > 1:   # leave the seed out of its band
            band = dict(bands.band_from_logs(own[:i] + own[i + 1:]), config=band["config"])
        count += compare.judge_log(log, band).consistent
    return count


# ---------------------------------------------------------------------------------------------
# The rule measured: false rejections and power at run lengths

@dataclasses.dataclass(frozen=True)
class Measured:
    """A committed band to measure the rule on: its seeds' logs, and runs made to differ from
    its config ({what differs: their logs})."""
    label: str
    band: dict
    logs: list
    differ: dict


def committed_bands():
    """A Measured for each band committed under reference/: each edition's (the tutorial's also
    as the band of its held-out seeds alone) and each edited config's (reference/bands/), with
    the runs made to differ from it (its power_runs/ folder)."""
    found = []
    files = [(name, *bands.edition_band(name)) for name in bands.editions()] + [
        (None, path, os.path.join(os.path.dirname(path), "runs"))
        for path in sorted(glob.glob(os.path.join(bands.COMMITTED_BANDS_DIR, "*", "band.json")))]
    for name, band_file, runs_dir in files:
        band = bands.read_band(band_file)
        cfg = bands.band_config(band)
        logs = list(seed_runs.seed_logs(runs_dir, cfg["batch_size"]).values())
        power_dir = (os.path.join(ROOT, "reference", "power_runs")
                     if name == bands.TUTORIAL_EDITION else
                     os.path.join(os.path.dirname(band_file), "power_runs"))
        label = name or ", ".join(bands.differences(cfg, published.PUBLISHED))
        if name == bands.TUTORIAL_EDITION:
            held = [log for s, log in zip(band["seeds"], logs) if s in HELD_OUT]
            if held:
                found.append(Measured(f"{label}, seeds {HELD_OUT[0]}-{HELD_OUT[-1]} (held out)",
                                      dict(bands.band_from_logs(held), config=band["config"]),
                                      held, {}))
            label = f"{label}, all {len(logs)} seeds"
        found.append(Measured(label, band, logs, runs_that_differ(power_dir, cfg)))
    return found


def runs_that_differ(folder, cfg):
    """{what differs from `cfg`: the logs} of each folder of seed logs in `folder`."""
    found = {}
    for kind in sorted(glob.glob(os.path.join(folder, "*"))):
        runs = seed_runs.seed_logs(kind, cfg["batch_size"])
        if runs:
            made, _ = bands.run_config(os.path.join(kind, f"seed_{min(runs)}.log"))
            found[", ".join(bands.model_differences(made, cfg))] = list(runs.values())
    return found


def lengths_of(band):
    """The run lengths to measure a band at: RATE_LENGTHS below its own, then its own."""
    return [n for n in RATE_LENGTHS if n < band["steps"][-1]] + [band["steps"][-1]]


def judged_at(band, length):
    """The band's display steps up to `length`, and whether the final accuracy is judged."""
    steps = [s for s in band["steps"] if s <= length]
    return steps, steps[-1] == band["steps"][-1]


def rates_at(band, length):
    """[rejected, judged] of the band's seeds (each against the others) and of its pairs of
    seeds, for runs of `length` steps."""
    steps, final = judged_at(band, length)
    r = rule.error_rates(bands.seeds_at(band, steps, final))
    return {"single": [len(r.single), r.singles], "pairs": [len(r.pairs), r.pair_count]}


def power_at(band, runs, length):
    """[rejected, judged] of `runs` (logs of another config) against the band, and of each of
    them paired with each band seed (against the band of the other seeds), cut at `length`."""
    steps, final = judged_at(band, length)
    seeds = bands.seeds_at(band, steps, final)
    n = bands.test_len(band)
    alone = pairs = 0
    for run in runs:
        points = run.points(steps)
        wrong = bands.wrong_images(run.test_accuracy, n) if final else None
        alone += not rule.judge(points, seeds, wrong).consistent
        for i in range(seeds.n):
            pairs += not rule.judge_pair(points, seeds.values[i], seeds.without(i), wrong,
                                         None if seeds.wrong is None else int(seeds.wrong[i])
                                         ).consistent
    return {"single": [alone, len(runs)], "pairs": [pairs, len(runs) * seeds.n]}


def measure(m):
    """One committed band's row of the rates file: its false rejections and power by length."""
    lengths = lengths_of(m.band)
    return {"band": m.label, "seeds": len(m.logs), "lengths": lengths,
            "false_rejections": {str(n): rates_at(m.band, n) for n in lengths},
            "power": {kind: {str(n): power_at(m.band, runs, n) for n in lengths}
                      for kind, runs in m.differ.items()},
            "runs_per_kind": {kind: len(runs) for kind, runs in m.differ.items()}}


def rule_rates():
    """Every committed band's false-rejection rates and power at each run length (JSON-ready)."""
    return {"alpha": rule.ALPHA, "rows": [measure(m) for m in committed_bands()],
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def rates_tables(rates):
    """The false-rejection table and the power table (markdown) of rule_rates()."""
    def cell(by_length, n):
        if n is None:
            return "-"
        (a, b), (c, d) = by_length[str(n)]["single"], by_length[str(n)]["pairs"]
        return f"{a}/{b} · {c}/{d}"
    head = "| {} | 200 | 400 | 1000 | 2000 | 5000 | full |"
    false = [head.format("band (runs: alone · pairs)"), "| --- |" + " --- |" * 6]
    power = [head.format("band: runs that differ (alone · paired with each seed)"),
             "| --- |" + " --- |" * 6]
    for row in rates["rows"]:
        full = row["lengths"][-1]
        shown = [n if n in row["lengths"] else None for n in RATE_LENGTHS] + [full]
        false.append(f"| {row['band']} (full: {full} steps) | "
                     + " | ".join(cell(row["false_rejections"], n) for n in shown) + " |")
        for kind, by_length in row["power"].items():
            power.append(f"| {row['band']}: {kind} ({row['runs_per_kind'][kind]} runs) | "
                         + " | ".join(cell(by_length, n) for n in shown) + " |")
    return "\n".join(false), "\n".join(power)
