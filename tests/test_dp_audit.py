"""DP audit: Clopper-Pearson limits and the audit on scores with a known privacy curve.

Member scores N(mu, 1) against non-member scores N(0, 1) are the output distributions of
the Gaussian mechanism with sensitivity 1 and noise 1/mu: mu-GDP, whose exact (eps, delta)
curve is delta(eps) = Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2) (Dong, Roth, Su 2019).
No test can beat it, so a sound audit never reports a violation at the true epsilon and its
lower bound stays below it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import binom, norm

from fedsim.attacks.audit import (
    clopper_pearson,
    clopper_pearson_lower,
    clopper_pearson_upper,
    dp_audit,
)


def gdp_epsilon(mu: float, delta: float) -> float:
    """The smallest epsilon with (epsilon, delta)-DP for mu-GDP."""
    def excess(eps: float) -> float:
        return norm.cdf(-eps / mu + mu / 2) - math.exp(eps) * norm.cdf(-eps / mu - mu / 2) - delta

    return brentq(excess, 0.0, 100.0)


def gaussian_scores(mu: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = np.r_[rng.normal(mu, 1.0, n), rng.normal(0.0, 1.0, n)]
    return scores, np.r_[np.ones(n, bool), np.zeros(n, bool)]


@pytest.mark.parametrize(("k", "n"), [(1, 10), (5, 10), (37, 200), (199, 200), (3, 5000)])
def test_clopper_pearson_limits_solve_the_binomial_tails(k: int, n: int) -> None:
    alpha = 0.025
    low = float(clopper_pearson_lower(np.array(k), n, alpha))
    high = float(clopper_pearson_upper(np.array(k), n, alpha))
    assert binom.sf(k - 1, n, low) == pytest.approx(alpha, rel=1e-6)  # P(X >= k | low)
    assert binom.cdf(k, n, high) == pytest.approx(alpha, rel=1e-6)  # P(X <= k | high)
    assert (low, high) == pytest.approx(clopper_pearson(k, n, 0.95))


def test_clopper_pearson_edges_are_exact() -> None:
    n, alpha = 20, 0.05
    assert float(clopper_pearson_lower(np.array(0), n, alpha)) == 0.0
    assert float(clopper_pearson_upper(np.array(n), n, alpha)) == 1.0
    assert float(clopper_pearson_upper(np.array(0), n, alpha)) == pytest.approx(
        1 - alpha ** (1 / n))  # (1 - p)^n = alpha


def test_clopper_pearson_covers_at_least_the_confidence() -> None:
    rng = np.random.default_rng(0)
    n, p, trials = 50, 0.07, 4000
    k = rng.binomial(n, p, trials)
    low = clopper_pearson_lower(k, n, 0.025)
    high = clopper_pearson_upper(k, n, 0.025)
    assert np.mean((low <= p) & (p <= high)) >= 0.95


@pytest.mark.parametrize("mu", [0.5, 1.0, 2.0, 3.0])
@pytest.mark.parametrize("seed", range(3))
def test_audit_never_beats_the_true_epsilon(mu: float, seed: int) -> None:
    delta = 1e-5
    eps = gdp_epsilon(mu, delta)
    result = dp_audit(*gaussian_scores(mu, 5000, seed), epsilon=eps, delta=delta)
    assert result.violations == 0
    assert result.empirical_epsilon_lower_bound < eps


def test_audit_finds_a_large_leak_and_refutes_a_small_claim() -> None:
    delta = 1e-5
    scores, labels = gaussian_scores(4.0, 5000, 0)
    result = dp_audit(scores, labels, epsilon=0.5, delta=delta)
    assert result.violations > 0
    assert 1.0 < result.empirical_epsilon_lower_bound < gdp_epsilon(4.0, delta)


def test_audit_of_chance_scores_finds_nothing() -> None:
    scores, labels = gaussian_scores(0.0, 2000, 1)
    result = dp_audit(scores, labels, epsilon=0.0, delta=1e-5)
    assert result.violations == 0
    assert result.empirical_epsilon_lower_bound < 0.2
