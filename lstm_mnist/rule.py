"""The verdict's rule: could a run (or a pair of runs) be one more seed of the band?

Every limit comes from the band's own seeds at exactly the display steps being judged, so it
holds for a run cut at 400 steps as for a full one, and for any config or edition:

  points  Each point (the minibatch loss or the training accuracy at one display step) lies
          inside or outside the seeds' 95% prediction interval for one more run,
          mean +- t * s * sqrt(1 + 1/n), widened by half the last printed digit. The count
          outside is judged by a beta-binomial fitted to the counts the seeds themselves have,
          each judged against the others, its overdispersion at least what the seeds' mean
          correlation implies (points of one run are correlated).
  lead    The run's mean lead over the seeds' mean, in standard deviations, over the steps
          after step 1 (step 1 shows the initial weights, not the training): a run can have
          every point inside and still lag at every step. Its limit is Student's t times the
          spread of the seeds' own leads at these steps, which holds their correlation.
  final   The final test accuracy is a count of wrong images among test_len: a count model
          fitted to the seeds' counts (a binomial over the images the seeds disagree on, or a
          beta-binomial when the counts spread more than a binomial's), with exact tails.

A run is consistent when it passes every check judged. ALPHA gives each check's share of genuine
runs it may reject; their sum bounds the whole rule's. A pair of runs (judge_pair) is judged the
same way on their differences: t * s * sqrt(2) a point, the difference of their leads against
sqrt(2) times the seeds' spread, the difference of their counts against that of two draws of
the count model. Pure numpy and scipy.special; callers pass arrays and get dataclasses back.
"""
import dataclasses
import math

import numpy as np
from scipy import special

# Each check's share of genuine runs it may reject (two-sided where it has two sides): 2.6% in
# all at most. Chosen on the tutorial's seeds 1-20 and the runs made to differ from it
# (reference/power_runs, seeds 1-2), before seeds 21-40, the editions' and other bands were
# judged (docs/comparing.md). The points' limit is approximate where points correlate strongly:
# tests/test_rule.py draws seeds correlated 0.5 and sees 0.7% over it.
ALPHA = {"points": 0.001, "lead": 0.015, "final": 0.01}
# the per-point prediction interval's coverage: what a table row's `*` and the plot show
POINT_COVERAGE = 0.95
KEYS = ("loss", "accuracy")
SIGN = np.array([-1.0, 1.0])[:, None]   # a lead: a lower loss, a higher accuracy


@dataclasses.dataclass(frozen=True)
class Seeds:
    """The band's seeds at the judged display steps.

    values: (n, 2, k) the minibatch loss [:, 0] and training accuracy [:, 1] of n seeds at k
    steps; steps: the k steps; wrong: (n,) wrong images among test_len at the end, or None when
    the final accuracy is not judged; rounding: half the last printed digit of loss, accuracy.
    """
    steps: tuple
    values: np.ndarray
    wrong: np.ndarray | None
    test_len: int
    rounding: tuple

    @property
    def n(self):
        return self.values.shape[0]

    def without(self, *drop):
        keep = [i for i in range(self.n) if i not in drop]
        return dataclasses.replace(self, values=self.values[keep],
                                   wrong=None if self.wrong is None else self.wrong[keep])


@dataclasses.dataclass(frozen=True)
class Check:
    """One check of the rule: its statistic, its limit and where the limit came from."""
    name: str      # points, lead or final
    ok: bool
    line: str      # what the verdict prints
    why: str       # what failed, for "not consistent: ..."; "" when ok


@dataclasses.dataclass(frozen=True)
class Verdict:
    consistent: bool
    inside: np.ndarray      # (2, k) bool: each point inside its interval (or, pairs, agreeing)
    checks: tuple           # Check, in the order points, lead, final

    @property
    def why(self):
        return "; ".join(c.why for c in self.checks if not c.ok)


# ---------------------------------------------------------------------------------------------
# Intervals and statistics

def t_quantile(p, df):
    """Student's t quantile."""
    return float(special.stdtrit(df, p))


def _mean_sd(values):
    """Mean and sample sd over the seeds (axis 0)."""
    return values.mean(0), values.std(0, ddof=1)


def shown(lo, hi):
    """(lo, hi) as the table and the plot show them: a loss is at least 0, an accuracy within
    0..1 (no logged value lies beyond, so the verdicts are the same either way)."""
    return np.maximum(lo, 0.0), np.minimum(hi, np.array([[np.inf], [1.0]]))


def half_widths(seeds, pair=False):
    """(2, k) half-width of each point's interval: one more run around the seeds' mean
    (t * s * sqrt(1 + 1/n)), or, `pair`, the difference of two runs (t * s * sqrt(2));
    widened by the printing's rounding."""
    n = seeds.n
    _, sd = _mean_sd(seeds.values)
    t = t_quantile(0.5 + POINT_COVERAGE / 2, n - 1)
    spread = math.sqrt(2) if pair else math.sqrt(1 + 1 / n)
    return t * sd * spread + np.array(seeds.rounding)[:, None]


def intervals(seeds):
    """(lo, hi), each (2, k): the 95% prediction interval of one more run at each point."""
    mean, _ = _mean_sd(seeds.values)
    half = half_widths(seeds)
    return mean - half, mean + half


def lead_weights(seeds):
    """(2, k) weights that turn a run's points into its mean lead over the seeds' mean, in sd:
    sign / (s * sqrt(1 + 1/n)) averaged over the points after step 1. Where the seeds agree to
    the printed digit (s = 0), the rounding stands for s."""
    _, sd = _mean_sd(seeds.values)
    sd = np.maximum(sd, np.array(seeds.rounding)[:, None])
    counted = np.array([s != 1 for s in seeds.steps], float)[None, :]
    if not counted.any():
        raise ValueError("the mean lead needs a display step after step 1")
    return SIGN * counted / (sd * math.sqrt(1 + 1 / seeds.n) * 2 * counted.sum())


def lead(points, seeds):
    """A run's mean lead over the seeds' mean (points: (2, k)), in sd; positive: ahead."""
    mean, _ = _mean_sd(seeds.values)
    return float(((points - mean) * lead_weights(seeds)).sum())


def seed_leads(seeds):
    """(n,) each seed's own mean lead over the seeds' mean, with the same weights: their spread
    is how far a genuine run's lead strays at these steps."""
    mean, _ = _mean_sd(seeds.values)
    return ((seeds.values - mean) * lead_weights(seeds)).sum((1, 2))


def outside_counts(seeds):
    """(n,) each seed's points outside the intervals of the other seeds (left out in turn)."""
    x = seeds.values
    n = seeds.n
    total, squares = x.sum(0), (x ** 2).sum(0)
    rest_mean = (total - x) / (n - 1)                                    # (n, 2, k)
    rest_var = np.maximum((squares - x ** 2 - (n - 1) * rest_mean ** 2) / (n - 2), 0)
    t = t_quantile(0.5 + POINT_COVERAGE / 2, n - 2)
    half = t * np.sqrt(rest_var) * math.sqrt(1 + 1 / (n - 1)) + \
        np.array(seeds.rounding)[:, None]
    return (np.abs(x - rest_mean) > half).sum((1, 2))


def pair_outside_counts(seeds):
    """(pairs,) for each pair of seeds, the points where they differ by more than the
    difference of two runs may (half_widths(pair=True)) of the other seeds."""
    x = seeds.values
    n = seeds.n
    i, j = np.triu_indices(n, 1)
    total, squares = x.sum(0), (x ** 2).sum(0)
    rest_total = total - x[i] - x[j]
    rest_var = np.maximum((squares - x[i] ** 2 - x[j] ** 2 - rest_total ** 2 / (n - 2))
                          / (n - 3), 0)
    t = t_quantile(0.5 + POINT_COVERAGE / 2, n - 3)
    half = t * np.sqrt(rest_var) * math.sqrt(2) + np.array(seeds.rounding)[:, None]
    return (np.abs(x[i] - x[j]) > half).sum((1, 2))


# ---------------------------------------------------------------------------------------------
# Count models: exact tails

def beta_binomial_pmf(trials, mean, rho):
    """pmf over 0..trials of a beta-binomial with success probability `mean` and
    intra-class correlation `rho` (0: a binomial)."""
    k = np.arange(trials + 1)
    log_choose = special.gammaln(trials + 1) - special.gammaln(k + 1) - \
        special.gammaln(trials - k + 1)
    if rho <= 0:   # xlogy: 0 * log(0) = 0, for a mean of 0 or 1
        return np.exp(log_choose + special.xlogy(k, mean) + special.xlog1py(trials - k, -mean))
    a = mean * (1 / rho - 1)
    b = (1 - mean) * (1 / rho - 1)
    return np.exp(log_choose + special.betaln(k + a, trials - k + b) - special.betaln(a, b))


def upper_limit(counts, trials, alpha, floor, rho_floor=0.0):
    """The count of points outside that a genuine run exceeds with probability at most `alpha`:
    a beta-binomial over `trials` points fitted by moments to the seeds' `counts`, its mean at
    least `floor` (the intervals' own miss rate) and its overdispersion at least `rho_floor`.
    Returns (the limit, the overdispersion used)."""
    mean = max(float(np.mean(counts)) / trials, floor)
    var = float(np.var(counts, ddof=1)) if len(counts) > 1 else 0.0
    binomial = trials * mean * (1 - mean)
    rho = (var / binomial - 1) / (trials - 1) if trials > 1 else 0.0
    rho = min(max(rho, rho_floor, 0.0), 0.99)
    beyond = 1 - np.cumsum(beta_binomial_pmf(trials, mean, rho))          # P(count > c)
    return int(np.argmax(beyond <= alpha)), rho


def exceedance_correlation(r, coverage=POINT_COVERAGE):
    """The correlation of two points' being outside their intervals when the two are normal with
    correlation r: P(|X| > c, |Y| > c) from the bivariate normal (Owen's T)."""
    c = float(special.ndtri(0.5 + coverage / 2))
    p = 2 * float(special.ndtr(-c))

    def both_below(r):   # P(X < -c, Y < -c)
        return float(special.ndtr(-c) - 2 * special.owens_t(-c, math.sqrt((1 - r) / (1 + r))))
    both = 2 * both_below(r) + 2 * both_below(-r)
    return (both - p * p) / (p * (1 - p))


def mean_correlation(seeds):
    """The average correlation of a seed's points (signed as the lead counts them), from the
    spread of the seeds' leads: Var(lead) = (1 + (K - 1) r) / (K (1 + 1/n)) over K points.
    Pooled over every pair of points, it tells more than the seeds' few counts outside do."""
    counted = 2 * sum(1 for s in seeds.steps if s != 1)
    if counted < 2:
        return 0.0
    var = float(np.var(seed_leads(seeds), ddof=1)) * (1 + 1 / seeds.n)
    return min(max((counted * var - 1) / (counted - 1), 0.0), 0.98)


@dataclasses.dataclass(frozen=True)
class CountModel:
    """What the seeds' final counts of wrong images say of one more run: pmf over 0..test_len."""
    pmf: np.ndarray
    kind: str        # how it was fitted, for the verdict

    @property
    def two_sided(self):
        """(test_len + 1,) for each count, its smaller tail doubled: P(as far out on its side)."""
        lower, upper = np.cumsum(self.pmf), np.cumsum(self.pmf[::-1])[::-1]
        return np.minimum(1.0, 2 * np.minimum(lower, upper))

    def accepted(self, alpha):
        """The lowest and highest count that the two-sided check at `alpha` accepts."""
        ok = np.nonzero(self.two_sided >= alpha)[0]
        return int(ok.min()), int(ok.max())


def count_model(wrong, test_len, alpha):
    """The count model of one more run's wrong images, fitted to the seeds' counts `wrong`.

    Mean and variance are the seeds', the variance widened as Student's t widens a normal
    prediction interval for n seeds (the mean's uncertainty, 1 + 1/n, and the variance's,
    (t / z)^2 at `alpha`); at least 1/4 (a count is known to one image) and the mean kept half
    an image from 0 and test_len. Below a binomial's variance (the seeds share the test images:
    most are always right, a few always wrong) it is a binomial over fewer images, those the
    seeds disagree on (whole images, rounded up: a little wider); above, a beta-binomial over all
    test_len.
    """
    n = len(wrong)
    mean = min(max(float(np.mean(wrong)), 0.5), test_len - 0.5)
    z = float(special.ndtri(1 - alpha / 2))
    var = float(np.var(wrong, ddof=1)) * (1 + 1 / n) * (t_quantile(1 - alpha / 2, n - 1) / z) ** 2
    var = max(var, 0.25)
    binomial = mean * (1 - mean / test_len)
    if var < binomial:   # whole images: at least the variance asked for, and one to spare
        p = 1 - var / mean
        trials = max(math.ceil(mean / p), math.floor(mean) + 1)
        pmf = np.zeros(test_len + 1)
        pmf[:trials + 1] = beta_binomial_pmf(trials, min(mean / trials, 1.0), 0)
        return CountModel(pmf, f"a binomial over {trials} images")
    rho = (var / binomial - 1) / (test_len - 1)
    return CountModel(beta_binomial_pmf(test_len, mean / test_len, min(rho, 0.99)),
                      f"a beta-binomial over {test_len} images")


def difference_pmf(model):
    """pmf of the difference of two independent draws of `model`, over -test_len..test_len."""
    return np.convolve(model.pmf, model.pmf[::-1])


# ---------------------------------------------------------------------------------------------
# Verdicts

def judge(points, seeds, wrong=None, alpha=ALPHA):
    """Judge one run: `points` (2, k) at seeds.steps, `wrong` its final count of wrong images
    (None: the final accuracy is not judged). Returns a Verdict."""
    lo, hi = intervals(seeds)
    inside = (lo <= points) & (points <= hi)
    outside = int((~inside).sum())
    checks = [_check_points(outside, inside.size, outside_counts(seeds), "one run", alpha,
                            seeds)]
    checks.append(_check_lead(lead(points, seeds), seed_leads(seeds), seeds.n, alpha,
                              pair=False))
    if wrong is not None and seeds.wrong is not None:
        checks.append(_check_final(wrong, None, seeds, alpha))
    return Verdict(all(c.ok for c in checks), inside, tuple(checks))


def judge_pair(a, b, seeds, wrong_a=None, wrong_b=None, alpha=ALPHA):
    """Judge two runs of one config with each other (each (2, k) at seeds.steps), by the spread
    of the seeds' differences. Returns a Verdict (inside: the points where they agree)."""
    inside = np.abs(a - b) <= half_widths(seeds, pair=True)
    outside = int((~inside).sum())
    checks = [_check_points(outside, inside.size, pair_outside_counts(seeds), "pairs", alpha,
                            seeds)]
    checks.append(_check_lead(lead(a, seeds) - lead(b, seeds), seed_leads(seeds), seeds.n,
                              alpha, pair=True))
    if wrong_a is not None and wrong_b is not None and seeds.wrong is not None:
        checks.append(_check_final(wrong_a, wrong_b, seeds, alpha))
    return Verdict(all(c.ok for c in checks), inside, tuple(checks))


def _check_points(outside, total, counts, kind, alpha, seeds):
    limit, _ = upper_limit(counts, total, alpha["points"], 1 - POINT_COVERAGE,
                           exceedance_correlation(mean_correlation(seeds)))
    ok = outside <= limit
    if kind == "one run":
        what, source = "points outside the band", "its seeds show, each against the others"
        why = f"{outside} of {total} points outside the band (at most {limit})"
    else:
        what, source = "points where the runs differ more than two seeds do", "its pairs show"
        why = f"the runs differ at {outside} of {total} points (at most {limit})"
    line = (f"{what}: {outside} of {total} (at most {limit}: from what {source}, exceeded by "
            f"{_percent(alpha['points'])} of genuine runs) -> {'inside' if ok else 'OUTSIDE'}")
    return Check("points", ok, line, "" if ok else why)


def _check_lead(value, leads, n, alpha, pair):
    spread = float(np.std(leads, ddof=1))
    limit = t_quantile(1 - alpha["lead"] / 2, n - 1) * spread * (
        math.sqrt(2) if pair else math.sqrt(1 + 1 / n))
    ok = abs(value) <= limit
    other = "the other run" if pair else "the seeds"
    line = (f"mean lead over {other}: {value:+.2f} sd (at most +-{limit:.2f}: the seeds' own "
            f"leads at these steps spread {spread:.2f}, exceeded by {_percent(alpha['lead'])} "
            f"of genuine runs) -> {'inside' if ok else 'OUTSIDE'}")
    why = "" if ok else (f"{'ahead of' if value > 0 else 'behind'} {other} by {abs(value):.2f} "
                         f"sd on average (at most {limit:.2f})")
    return Check("lead", ok, line, why)


def _check_final(wrong, other, seeds, alpha):
    a, N = alpha["final"], seeds.test_len
    model = count_model(seeds.wrong, N, a)
    if other is None:
        p = float(model.two_sided[wrong])
        low, high = model.accepted(a)
        line = (f"final test accuracy (first {N} images): {N - wrong} right, {wrong} wrong "
                f"(a genuine run: {low} to {high} wrong, by {model.kind} fitted to the seeds' "
                f"counts; P = {p:.3f})")
        why = "final test accuracy outside its band"
    else:
        pmf = difference_pmf(model)                       # over -N..N
        beyond = np.minimum(1.0, 2 * np.cumsum(pmf[::-1])[::-1][N:])   # P(|difference| >= d)
        beyond[0] = 1.0
        d = abs(wrong - other)
        p = float(beyond[d])
        allowed = int(np.nonzero(beyond >= a)[0].max())
        line = (f"final test accuracy (first {N} images): {N - wrong} vs {N - other} right, a "
                f"difference of {d} (at most {allowed}: two draws of {model.kind} fitted to "
                f"the seeds' counts; P = {p:.3f})")
        why = "final test accuracies differ by more than two seeds' do"
    ok = p >= a
    return Check("final", ok, f"{line} -> {'inside' if ok else 'OUTSIDE'}", "" if ok else why)


def _percent(share):
    return f"{100 * share:g}%"


# ---------------------------------------------------------------------------------------------
# How often the rule rejects the band's own seeds

@dataclasses.dataclass(frozen=True)
class ErrorRates:
    """The rule applied to the band's own seeds: each against the others, each pair with each
    other against the rest."""
    single: list     # indices of seeds rejected
    singles: int
    pairs: list      # (i, j) pairs rejected
    pair_count: int

    @property
    def single_rate(self):
        return len(self.single) / self.singles

    @property
    def pair_rate(self):
        return len(self.pairs) / self.pair_count if self.pair_count else 0.0


def error_rates(seeds, pairs=True, alpha=ALPHA):
    """ErrorRates of `seeds` at their steps: each seed judged against the band of the others
    (needs 4 seeds), each pair judged with each other against the band of the rest (5)."""
    single = [i for i in range(seeds.n)
              if not judge(seeds.values[i], seeds.without(i), _wrong(seeds, i), alpha).consistent]
    rejected, count = [], 0
    if pairs and seeds.n >= 5:
        for i in range(seeds.n):
            for j in range(i + 1, seeds.n):
                count += 1
                if not judge_pair(seeds.values[i], seeds.values[j], seeds.without(i, j),
                                  _wrong(seeds, i), _wrong(seeds, j), alpha).consistent:
                    rejected.append((i, j))
    return ErrorRates(single, seeds.n, rejected, count)


def upper_bound(rejected, total, confidence=0.95):
    """The one-sided upper confidence bound on a rate seen `rejected` times in `total`
    (Clopper-Pearson): what so few trials can't rule out."""
    if rejected >= total:
        return 1.0
    return float(special.betaincinv(rejected + 1, total - rejected, confidence))


def _wrong(seeds, i):
    return None if seeds.wrong is None else int(seeds.wrong[i])
