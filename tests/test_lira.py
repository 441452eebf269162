"""LiRA on synthetic statistics: per-example difficulty that only calibration removes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from fedsim.attacks.lira import lira_offline, lira_online
from fedsim.attacks.roc import roc_auc, roc_curve


def world(models: int, examples: int, seed: int = 0):  # type: ignore[no-untyped-def]
    """Statistic = difficulty_i + 1 if trained on + N(0, 0.5); half the models per example."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0, 3, examples)
    included = np.argsort(rng.random((models, examples)), axis=0) < models // 2
    stats = difficulty + included + rng.normal(0, 0.5, (models, examples))
    member = np.arange(examples) < examples // 2
    target = difficulty + member + rng.normal(0, 0.5, examples)
    return target, stats, included, member


def auc(scores: np.ndarray, member: np.ndarray) -> float:
    return roc_auc(roc_curve(scores, member))


def test_calibration_beats_the_raw_statistic() -> None:
    target, stats, included, member = world(16, 2000)
    raw, offline, online = (auc(s, member) for s in (
        target, lira_offline(target, stats, included), lira_online(target, stats, included)))
    assert raw < 0.65  # difficulty (sd 3) drowns the +1 shift
    assert offline > raw + 0.15
    assert online > raw + 0.15
    # the optimal test, knowing every Gaussian: shift 1, sd 0.5 -> AUC = Phi(1 / (0.5 sqrt 2))
    assert online == pytest.approx(norm.cdf(1 / (0.5 * np.sqrt(2))), abs=0.03)


def test_online_score_is_the_gaussian_log_likelihood_ratio() -> None:
    stats = np.array([[1.0, 5.0], [3.0, 5.0], [0.0, 7.0], [2.0, 9.0]])
    included = np.array([[1, 1], [1, 0], [0, 1], [0, 0]], dtype=bool)
    target = np.array([2.5, 6.0])
    # example 0: IN {1, 3} mean 2 sd 1; OUT {0, 2} mean 1 sd 1
    # example 1: IN {5, 7} mean 6 sd 1; OUT {5, 9} mean 7 sd 2; global sd = median per side
    sd_in, sd_out = np.median([1.0, 1.0]), np.median([1.0, 2.0])
    expected = [norm.logpdf(2.5, 2, sd_in) - norm.logpdf(2.5, 1, sd_out),
                norm.logpdf(6.0, 6, sd_in) - norm.logpdf(6.0, 7, sd_out)]
    np.testing.assert_allclose(lira_online(target, stats, included), expected)
    np.testing.assert_allclose(lira_offline(target, stats, included),
                               [norm.logcdf(2.5, 1, sd_out), norm.logcdf(6.0, 7, sd_out)])


def test_example_without_in_models_falls_back_to_offline() -> None:
    stats = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 2.0]])
    included = np.array([[True, False], [False, False], [True, False]])
    target = np.array([2.0, 1.5])
    online = lira_online(target, stats, included)
    assert online[1] == pytest.approx(lira_offline(target, stats, included)[1])
