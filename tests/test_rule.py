"""compare_log.py's rule, pinned: its arithmetic against values worked out by hand, its
thresholds against the documented ones, and the documented verdict figures against the code."""
import glob
import math
import re

import pytest

import compare_log
from conftest import ROOT
from make_band import band_from_logs


def log(loss, accuracy, test_accuracy):
    """A parsed log with one display step per value (steps 1, 200, 400, ...)."""
    steps = [1] + [200 * k for k in range(1, len(loss))]
    return dict(steps=steps, loss=list(loss), accuracy=list(accuracy),
                test_accuracy=test_accuracy, test_accuracy_full=None)


# A tiny band by hand: three seeds whose loss at the one step is 1, 2, 3: mean 2, sd 1, n 3,
# t(0.975, 2 df) = 4.3027.
TINY = [log([1.0], [0.2], 0.5), log([2.0], [0.4], 0.6), log([3.0], [0.6], 0.7)]


def test_interval_for_one_more_run_by_hand():
    # half-width 4.3027 * sqrt(1 + 1/3) = 4.968330, plus the rounding 0.0005
    lo, hi = compare_log.interval(2.0, 1.0, 3, 0.0005)
    assert lo == pytest.approx(2 - 4.968830, abs=1e-6)
    assert hi == pytest.approx(2 + 4.968830, abs=1e-6)
    # no rounding allowance, another n: 2.2622 * 0.5 * sqrt(1.1) at 10 seeds (9 df)
    lo, hi = compare_log.interval(1.0, 0.5, 10, 0.0)
    assert (hi - lo) / 2 == pytest.approx(2.2622 * 0.5 * math.sqrt(1.1), abs=0.001)


def test_interval_of_the_difference_of_two_runs_by_hand():
    # half-width 4.3027 * sqrt(2) = 6.084937, plus the rounding 0.0005
    lo, hi = compare_log.interval(0.0, 1.0, 3, 0.0005, against=True)
    assert (lo, hi) == pytest.approx((-6.085437, 6.085437), abs=1e-6)


def test_band_intervals_use_the_band_seeds_and_rounding():
    band = band_from_logs(TINY, leave_one_out=False)
    assert band["loss"]["mean"] == [2.0] and band["loss"]["std"] == [1.0]
    assert band["accuracy"]["std"] == [pytest.approx(0.2)]
    [(lo, hi)] = compare_log.band_intervals(band, "loss")
    assert (lo, hi) == pytest.approx((2 - 4.968380, 2 + 4.968380), abs=1e-6)   # rounding 5e-5
    [(lo, hi)] = compare_log.band_intervals(band, "accuracy")
    assert hi - 0.4 == pytest.approx(4.3027 * 0.2 * math.sqrt(4 / 3) + 0.0005, abs=1e-6)


@pytest.mark.parametrize("df, t", [(1, 12.7062), (2, 4.3027), (3, 3.1824), (5, 2.5706),
                                   (6, 2.4469), (9, 2.2622), (12, 2.1788), (18, 2.1009),
                                   (19, 2.0930), (30, 2.0423), (100, 1.9840)])
def test_t_quantiles_against_the_table(df, t):
    # Student's t 97.5% quantiles from a printed table (Abramowitz & Stegun, table 26.10)
    assert compare_log.t975(df) == pytest.approx(t, abs=0.002)


def synthetic_band(n_steps, n_seeds):
    """A band with mean 0 and sd 1 at every step, and a final accuracy of 0.9 +- 0.01."""
    return {"steps": [1] + [200 * k for k in range(1, n_steps)], "seeds": list(range(n_seeds)),
            "loss": {"mean": [0.0] * n_steps, "std": [1.0] * n_steps},
            "accuracy": {"mean": [0.0] * n_steps, "std": [1.0] * n_steps},
            "test_accuracy": {"mean": 0.9, "std": 0.01}}


def test_the_share_threshold_is_the_documented_one():
    assert compare_log.MIN_INSIDE == DOCUMENTED_MIN_INSIDE
    band = synthetic_band(50, 20)        # 100 points
    half = compare_log.t975(19) * math.sqrt(1 + 1 / 20)
    needed = math.ceil(DOCUMENTED_MIN_INSIDE * 100)
    for inside, consistent in ((needed, True), (needed - 1, False)):
        outside = 100 - inside            # far outside, 10 sd high: as many losses as
        high_loss, high_acc = (outside + 1) // 2, outside // 2   # accuracies, so no drift
        run = log([10.0] * high_loss + [0.0] * (50 - high_loss),
                  [10.0] * high_acc + [0.0] * (50 - high_acc), 0.9)
        assert abs(compare_log.drift(run, band)) < 0.1
        ok, marks, lines = compare_log.verdict(run, band)
        assert sum(map(sum, marks.values())) == inside
        assert ok is consistent, (inside, lines)
    # a point just inside or just outside its interval
    run = log([half * 0.999] + [0.0] * 49, [-(half + 0.0006)] + [0.0] * 49, 0.9)
    _, marks, _ = compare_log.verdict(run, band)
    assert marks["loss"][0] and not marks["accuracy"][0]


def test_the_final_accuracy_check(tmp_path):
    band = synthetic_band(50, 20)
    t = compare_log.t975(19)
    for spread, against in ((math.sqrt(1 + 1 / 20), None), (math.sqrt(2), 0.9)):
        allowed = t * 0.01 * spread + 0.5 / 128   # and half an image's share of 128 images
        for offset, ok in ((allowed - 1e-4, True), (allowed + 1e-4, False)):
            run = log([0.0] * 50, [0.0] * 50, 0.9 + offset)
            other = None if against is None else log([0.0] * 50, [0.0] * 50, against)
            assert compare_log.verdict(run, band, other)[0] is ok, (spread, offset)


def test_drift_by_hand():
    # three seeds, three display steps; mean 0 and sd 1 at every step: spread sqrt(1 + 1/3)
    band = {"steps": [1, 200, 400], "seeds": [1, 2, 3],
            "loss": {"mean": [0.0] * 3, "std": [1.0] * 3},
            "accuracy": {"mean": [0.0] * 3, "std": [1.0] * 3}}
    run = log([5.0, 1.0, -1.0], [9.0, 0.5, 0.5], 0.9)     # step 1 does not count
    # loss leads -1/1.1547 and +1/1.1547, accuracy leads 0.5/1.1547 twice: mean 0.21651
    assert compare_log.drift(run, band) == pytest.approx(0.216506, abs=1e-6)
    # against another run: differences over sqrt(2); the loss 1 higher twice (a lead of
    # -0.7071 each), the same accuracy: mean -1.41421 / 4
    other = log([0.0, 0.0, -2.0], [0.0, 0.5, 0.5], 0.9)
    assert compare_log.drift(run, band, other) == pytest.approx(-0.353553, abs=1e-6)


def test_the_drift_threshold_is_the_documented_one():
    assert compare_log.MAX_DRIFT == DOCUMENTED_MAX_DRIFT
    band = synthetic_band(50, 20)
    spread = math.sqrt(1 + 1 / 20)
    for lead, consistent in ((DOCUMENTED_MAX_DRIFT - 0.01, True),
                             (DOCUMENTED_MAX_DRIFT + 0.01, False)):
        # every point lags by `lead` sd: inside its interval, but all one way
        run = log([lead * spread] * 50, [-lead * spread] * 50, 0.9)
        ok, marks, lines = compare_log.verdict(run, band)
        assert all(map(all, marks.values()))
        assert ok is consistent, (lead, lines)


# The rule as docs/comparing.md (linked from the README) states it; the page is read here, so
# the two can't drift apart.
RULE_PAGE = open(f"{ROOT}/docs/comparing.md").read()
DOCUMENTED_MIN_INSIDE = int(re.search(r"consistent with the\s+tutorial\*\* when at least (\d+)%",
                                      RULE_PAGE)[1]) / 100
DOCUMENTED_MAX_DRIFT = float(re.search(r"its mean lead over the seeds is at most\s+([0-9.]+)\s+"
                                       r"standard deviations", RULE_PAGE)[1])


def readme_verdict_rows():
    """docs/comparing.md's table of verdicts: (log path, inside, total, final accuracy, verdict)."""
    rows = re.findall(r"^\| `([^`]+\.log)` \| (\d+) of (\d+) \(\d+%\) \| ([-+0-9.]+) \| "
                      r"([0-9.]+), (?:inside|outside) \| (consistent with the tutorial|"
                      r"not consistent) \|$", RULE_PAGE, re.M)
    assert len(rows) >= 3, "the verdict table of docs/comparing.md was not found"
    return rows


@pytest.mark.parametrize("row", readme_verdict_rows(), ids=lambda row: row[0])
def test_the_readmes_verdict_figures(row):
    path, inside, total, lead, final, said = row
    run = compare_log.read_log(f"{ROOT}/{path}")
    band = compare_log.read_band(compare_log.REFERENCE_BAND)
    consistent, marks, lines = compare_log.verdict(run, band)
    assert sum(map(sum, marks.values())) == int(inside)
    assert sum(map(len, marks.values())) == int(total)
    assert f"{run['test_accuracy']:.4f}" == final
    assert f"{compare_log.drift(run, band):+.2f}" == lead
    assert consistent is (said == "consistent with the tutorial")


POWER_RUNS = sorted(glob.glob(f"{ROOT}/reference/power_runs/*/seed_*.log"))


def test_every_run_that_differs_is_rejected_alone_and_against_every_seed():
    """Learning rate x2 and x1/2, 64 and 256 hidden units, two seeds each: each is rejected
    alone, and against each band seed (with the band of the other seeds)."""
    assert len(POWER_RUNS) >= 8
    band = compare_log.read_band(compare_log.REFERENCE_BAND)
    seeds = [compare_log.read_log(f"{ROOT}/reference/band_runs/seed_{s}.log")
             for s in band["seeds"]]
    for path in POWER_RUNS:
        run = compare_log.read_log(path)
        assert not compare_log.verdict(run, band)[0], path
        for i, seed in enumerate(seeds):
            others = band_from_logs(seeds[:i] + seeds[i + 1:], leave_one_out=False)
            assert not compare_log.verdict(run, others, seed)[0], (path, i)
