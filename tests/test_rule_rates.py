"""The rule's measured error rates (reference/rule_rates.json, `python make_band.py --rates`):
today's rule on the committed seeds gives them, no false-rejection rate is above 5% at any run
length of any committed band, and runs of another config are rejected at full length."""
import json

import pytest
from scipy import stats

from lstm_mnist import bands, evidence, rule


@pytest.fixture(scope="module")
def committed():
    with open(evidence.RATES_FILE) as f:
        return json.load(f)


def rows_at(committed, length):
    """(band, {single, pairs}) of every band measured at `length` ("full": its own)."""
    for row in committed["rows"]:
        n = row["lengths"][-1] if length == "full" else length
        if str(n) in row["false_rejections"]:
            yield row["band"], row["false_rejections"][str(n)]


@pytest.mark.parametrize("length", [*evidence.RATE_LENGTHS, "full"])
def test_no_false_rejection_rate_above_five_percent(committed, length):
    """At each length: pooled over the committed bands, at most 5% of genuine single runs and of
    pairs are rejected; and no band's own count is evidence of a rate above 5% (20 seeds at a
    rate of 5% show 2 or more rejections 26% of the time: a count is judged by that tail)."""
    measured = list(rows_at(committed, length))
    assert measured   # every length is measured on some band
    for kind in ("single", "pairs"):
        rejected = sum(rates[kind][0] for _, rates in measured)
        judged = sum(rates[kind][1] for _, rates in measured)
        assert rejected / judged <= 0.05, (length, kind, rejected, judged)
        for band, rates in measured:
            k, n = rates[kind]
            assert n >= 20 and stats.binom.sf(k - 1, n, 0.05) >= 0.05, (band, length, kind, k, n)


def test_the_held_out_seeds_are_measured_at_every_length(committed):
    (held,) = [r for r in committed["rows"] if "(held out)" in r["band"]]
    assert held["seeds"] == 20 and held["lengths"] == [*evidence.RATE_LENGTHS, 10000]


def test_runs_of_another_config_are_rejected_at_full_length(committed):
    (tutorial,) = [r for r in committed["rows"] if r["band"].endswith("all 40 seeds")]
    assert {"learning_rate=0.002", "learning_rate=0.0005", "num_hidden=256"} <= set(
        tutorial["power"])
    for kind, by_length in tutorial["power"].items():
        rejected, runs = by_length["10000"]["single"]
        assert runs >= 2 and rejected == runs, kind


def test_one_band_at_one_length_recomputed(committed):
    """Quick: the held-out seeds' rates at 400 steps, from their logs, equal the file's."""
    (m,) = [m for m in evidence.committed_bands() if "(held out)" in m.label]
    (row,) = [r for r in committed["rows"] if r["band"] == m.label]
    assert evidence.rates_at(m.band, 400) == row["false_rejections"]["400"]
    assert committed["alpha"] == rule.ALPHA


@pytest.mark.slow
def test_the_rates_file_is_todays_rule_on_the_committed_seeds(committed):
    fresh = json.loads(json.dumps(evidence.rule_rates()))
    assert fresh["alpha"] == committed["alpha"]
    assert fresh["rows"] == committed["rows"]
