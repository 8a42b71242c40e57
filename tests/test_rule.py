"""The rule (lstm_mnist/rule.py), checked against independent computations: values worked out
by hand, numpy's covariance, brute-force loops, Monte Carlo draws of its count models, and its
false-rejection rate on seeds simulated from a known distribution."""
import itertools
import math

import numpy as np
import pytest

from lstm_mnist import rule

ROUNDING = (0.00005, 0.0005)


def seeds(values, steps=None, wrong=None, test_len=128, rounding=ROUNDING):
    values = np.asarray(values, float)
    steps = steps or (1,) + tuple(200 * k for k in range(1, values.shape[2]))
    return rule.Seeds(tuple(steps), values,
                      None if wrong is None else np.asarray(wrong), test_len, rounding)


# Three seeds by hand: the loss at the one step is 1, 2, 3 (mean 2, sd 1), the accuracy 0.2,
# 0.4, 0.6 (mean 0.4, sd 0.2); t(0.975, 2 df) = 4.302653 (the table's 4.3027).
TINY = seeds([[[1.0], [0.2]], [[2.0], [0.4]], [[3.0], [0.6]]])


@pytest.mark.parametrize("df, t", [(1, 12.7062), (2, 4.3027), (3, 3.1824), (5, 2.5706),
                                   (9, 2.2622), (19, 2.0930), (30, 2.0423), (100, 1.9840)])
def test_t_quantiles_against_the_table(df, t):
    # Student's t 97.5% quantiles from a printed table (Abramowitz & Stegun, table 26.10)
    assert rule.t_quantile(0.975, df) == pytest.approx(t, abs=1e-4)


def test_one_more_runs_interval_by_hand():
    lo, hi = rule.intervals(TINY)
    # loss: 4.302653 * 1 * sqrt(1 + 1/3) = 4.968275, plus the rounding 0.00005
    assert (lo[0, 0], hi[0, 0]) == pytest.approx((2 - 4.968325, 2 + 4.968325), abs=1e-6)
    # accuracy: 4.302653 * 0.2 * sqrt(4/3) + 0.0005
    assert hi[1, 0] - 0.4 == pytest.approx(0.994155, abs=1e-6)


def test_the_difference_of_two_runs_by_hand():
    # 4.302653 * 1 * sqrt(2) = 6.084870, plus the rounding
    assert rule.half_widths(TINY, pair=True)[0, 0] == pytest.approx(6.084920, abs=1e-6)


def test_lead_by_hand():
    # three seeds at steps 1, 200, 400: mean 0 and sd 1 at each point (values -1, 0, 1);
    # the unit is sd * sqrt(1 + 1/3) = 1.154701
    band = seeds([[[-1] * 3, [-1] * 3], [[0] * 3, [0] * 3], [[1] * 3, [1] * 3]])
    run = np.array([[5.0, 1.0, -1.0], [9.0, 0.5, 0.5]])     # step 1 does not count
    # loss leads -1 and +1, accuracy leads 0.5 and 0.5 (in units): mean 0.25 / 1.154701
    assert rule.lead(run, band) == pytest.approx(0.216506, abs=1e-6)


def random_seeds(n=12, k=8, rng=None, wrong=True):
    """Seeds whose points are correlated across steps (a slow seed is slow throughout)."""
    rng = rng or np.random.default_rng(0)
    slow = rng.normal(size=(n, 1, 1))
    values = np.stack([2.0 - 0.1 * np.arange(k), 0.3 + 0.05 * np.arange(k)])[None]
    values = values + 0.1 * (slow * np.array([1, -0.5])[:, None] + rng.normal(size=(n, 2, k)))
    return seeds(values, wrong=rng.integers(8, 20, n) if wrong else None)


def test_the_seeds_leads_spread_as_their_covariance_says():
    """sd of the seeds' own leads == sqrt(w' S w), S the seeds' covariance of all points: the
    correlation across steps is in the lead's limit."""
    band = random_seeds()
    w = rule.lead_weights(band).ravel()
    cov = np.cov(band.values.reshape(band.n, -1), rowvar=False)
    assert np.std(rule.seed_leads(band), ddof=1) == pytest.approx(math.sqrt(w @ cov @ w))
    assert rule.seed_leads(band).sum() == pytest.approx(0, abs=1e-12)


def test_outside_counts_leave_each_seed_out():
    band = random_seeds(n=9)
    expected = []
    for i in range(band.n):
        rest = np.delete(band.values, i, 0)
        t = rule.t_quantile(0.975, band.n - 2)
        half = t * rest.std(0, ddof=1) * math.sqrt(1 + 1 / (band.n - 1)) + \
            np.array(ROUNDING)[:, None]
        expected.append(int((np.abs(band.values[i] - rest.mean(0)) > half).sum()))
    assert list(rule.outside_counts(band)) == expected
    assert sum(expected) > 0      # the check means something


def test_pair_outside_counts_leave_each_pair_out():
    band = random_seeds(n=8)
    expected = []
    for i, j in itertools.combinations(range(band.n), 2):
        rest = np.delete(band.values, [i, j], 0)
        t = rule.t_quantile(0.975, band.n - 3)
        half = t * rest.std(0, ddof=1) * math.sqrt(2) + np.array(ROUNDING)[:, None]
        expected.append(int((np.abs(band.values[i] - band.values[j]) > half).sum()))
    assert list(rule.pair_outside_counts(band)) == expected


def test_beta_binomial_against_draws_and_the_binomial():
    pmf = rule.beta_binomial_pmf(10, 0.3, 0.2)
    a = 0.3 * (1 / 0.2 - 1)
    b = 0.7 * (1 / 0.2 - 1)
    rng = np.random.default_rng(1)
    draws = rng.binomial(10, rng.beta(a, b, 400_000))
    assert np.abs(np.bincount(draws, minlength=11) / 400_000 - pmf).max() < 0.003
    binomial = rule.beta_binomial_pmf(10, 0.3, 0)
    assert binomial == pytest.approx([math.comb(10, k) * 0.3**k * 0.7**(10 - k)
                                      for k in range(11)])


def test_the_points_limit_is_the_tail_it_says():
    counts = [0, 1, 0, 2, 1, 0, 3, 1, 0, 1]
    limit, rho = rule.upper_limit(counts, 20, 0.01, 0.05)
    mean = max(np.mean(counts) / 20, 0.05)
    pmf = rule.beta_binomial_pmf(20, mean, rho)
    assert pmf[limit + 1:].sum() <= 0.01 < pmf[limit:].sum()
    # more spread among the seeds, a higher limit
    assert rule.upper_limit([0, 0, 6, 0, 5, 0, 0, 7, 0, 0], 20, 0.01, 0.05)[0] > limit


@pytest.mark.parametrize("wrong", [
    [14, 15, 13, 16, 14, 12, 15, 17, 13, 14],    # spread less than a binomial's: fewer images
    [2, 9, 14, 1, 22, 5, 17, 0, 11, 30],         # more: a beta-binomial over all 128
])
def test_count_models_keep_the_seeds_mean_and_widened_variance(wrong):
    model = rule.count_model(np.array(wrong), 128, 0.01)
    k = np.arange(129)
    mean = (model.pmf * k).sum()
    var = (model.pmf * (k - mean) ** 2).sum()
    n = len(wrong)
    widened = np.var(wrong, ddof=1) * (1 + 1 / n) * (
        rule.t_quantile(0.995, n - 1) / 2.5758293) ** 2
    assert model.pmf.sum() == pytest.approx(1)
    assert mean == pytest.approx(np.mean(wrong), rel=0.03)
    assert var == pytest.approx(widened, rel=0.12)    # a binomial over whole images: near
    assert ("binomial over" in model.kind) and (
        ("beta" in model.kind) == (np.var(wrong, ddof=1) > np.mean(wrong)))


def test_a_count_model_is_exact_near_zero():
    """Seeds that get 0 to 3 images wrong: no probability below 0, the tails skewed."""
    model = rule.count_model(np.array([0, 1, 2, 1, 3, 0, 2, 1, 1, 2]), 128, 0.01)
    low, high = model.accepted(0.01)
    assert low == 0 and 4 <= high <= 7
    assert model.two_sided[high + 1] < 0.01 <= model.two_sided[high]
    # seeds that all agree: a count is known to one image, not better
    same = rule.count_model(np.array([0] * 10), 128, 0.01)
    assert same.accepted(0.01)[1] >= 1


def test_difference_of_two_draws_by_brute_force():
    model = rule.CountModel(np.array([0.5, 0.3, 0.2]), "test")
    expected = {}
    for a, b in itertools.product(range(3), repeat=2):
        expected[a - b] = expected.get(a - b, 0) + model.pmf[a] * model.pmf[b]
    assert rule.difference_pmf(model) == pytest.approx([expected[d] for d in range(-2, 3)])


def simulated_rates(rng, bands=150, runs=20, n=20, k=26):
    """The share of genuine runs each check rejects: bands of n seeds and new runs drawn from one
    correlated normal model (known truth), all at k steps."""
    rejected = {"points": 0, "lead": 0, "final": 0, "any": 0}
    for _ in range(bands):
        draws = random_seeds(n + runs, k, rng)
        band = draws.without(*range(n, n + runs))
        for i in range(n, n + runs):
            verdict = rule.judge(draws.values[i], band, int(draws.wrong[i]))
            for check in verdict.checks:
                rejected[check.name] += not check.ok
            rejected["any"] += not verdict.consistent
    return {key: count / (bands * runs) for key, count in rejected.items()}


def test_the_rule_rejects_what_it_says_of_runs_drawn_from_the_seeds_distribution():
    rates = simulated_rates(np.random.default_rng(7))
    # the lead is exactly Student's t here: 1.5% (3000 runs: +-0.22% sd)
    assert rates["lead"] == pytest.approx(rule.ALPHA["lead"], abs=0.007)
    # points: the beta-binomial is approximate where points correlate as strongly as here (up
    # to 0.5): 0.7% over a limit meant for 0.1%
    assert rates["points"] <= 0.01
    assert rates["final"] <= rule.ALPHA["final"] + 0.01     # uniform integers: not the model's
    assert rates["any"] <= sum(rule.ALPHA.values()) + 0.01


def test_exceedance_correlation_against_draws():
    rng = np.random.default_rng(5)
    for r in (0.0, 0.3, 0.8):
        x = rng.normal(size=(2, 1_000_000))
        y = r * x[0] + math.sqrt(1 - r * r) * x[1]
        c = 1.959964
        out = np.abs(x[0]) > c, np.abs(y) > c
        assert rule.exceedance_correlation(r) == pytest.approx(np.corrcoef(*out)[0, 1],
                                                                abs=0.01)


def test_the_points_mean_correlation_from_the_leads():
    """Seeds whose standardized points share one factor (correlation 0.5 between any two)."""
    rng = np.random.default_rng(2)
    n, k = 400, 10
    z = math.sqrt(0.5) * rng.normal(size=(n, 1, 1)) + math.sqrt(0.5) * rng.normal(size=(n, 2, k))
    z[:, 0] *= -1             # the lead counts a lower loss as ahead
    band = seeds(z)
    assert rule.mean_correlation(band) == pytest.approx(0.5, abs=0.06)


def test_a_run_that_lags_at_every_step_is_rejected():
    rng = np.random.default_rng(3)
    draws = random_seeds(30, 26, rng)
    band = draws.without(*range(20, 30))
    lagging = draws.values[20:] + np.array([0.4, -0.2])[:, None]   # 3 sd of a point, all one way
    assert all(not rule.judge(run, band).consistent for run in lagging)
    assert all("behind the seeds" in rule.judge(run, band).why for run in lagging)


def test_upper_bound_is_clopper_pearson():
    assert rule.upper_bound(0, 20) == pytest.approx(1 - 0.05 ** (1 / 20))   # the rule of 3
    assert rule.upper_bound(20, 20) == 1.0
    assert rule.upper_bound(1, 20) == pytest.approx(0.2161, abs=1e-4)        # from a table
