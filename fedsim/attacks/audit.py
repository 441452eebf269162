"""DP audit: does a membership attack's empirical TPR/FPR break (epsilon, delta)-DP?

(epsilon, delta)-DP bounds every test between "x in" and "x out":
TPR <= e^epsilon * FPR + delta, and symmetrically TNR <= e^epsilon * FNR + delta
(Kairouz et al. 2015; the auditing recipe of Jagielski et al. 2020 and Nasr et al. 2021).
Counts give Clopper-Pearson intervals; the bound is checked with TPR at its lower limit and
FPR at its upper limit, so a violation is a statistically sound finding. Every threshold
tested adds four one-sided limits: the union (Bonferroni) bound splits 1 - confidence over
all of them, so the whole audit is wrong with probability at most 1 - confidence.

The empirical epsilon lower bound is the largest log((TPR_low - delta) / FPR_high) (and its
symmetric term) over the thresholds: a DP guarantee below it is refuted.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import beta

from fedsim.attacks.roc import RocCurve, roc_curve


def clopper_pearson_lower(successes: np.ndarray, trials: int, alpha: float) -> np.ndarray:
    """One-sided lower limit (level 1 - alpha) of a binomial proportion; 0 when none succeed."""
    k = np.asarray(successes, dtype=np.float64)
    low = beta.ppf(alpha, np.maximum(k, 1e-300), trials - k + 1)
    return np.where(k == 0, 0.0, low)


def clopper_pearson_upper(successes: np.ndarray, trials: int, alpha: float) -> np.ndarray:
    """One-sided upper limit (level 1 - alpha) of a binomial proportion; 1 when all succeed."""
    k = np.asarray(successes, dtype=np.float64)
    high = beta.ppf(1 - alpha, k + 1, np.maximum(trials - k, 1e-300))
    return np.where(k == trials, 1.0, high)


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Clopper-Pearson interval of successes / trials."""
    alpha = (1 - confidence) / 2
    return (float(clopper_pearson_lower(np.array(successes), trials, alpha)),
            float(clopper_pearson_upper(np.array(successes), trials, alpha)))


@dataclass(frozen=True)
class AuditResult:
    """Outcome of `dp_audit` (JSON-ready through `as_dict`)."""

    epsilon: float | None  # the accounted epsilon checked (None: only the lower bound)
    delta: float
    confidence: float
    thresholds_tested: int
    empirical_epsilon_lower_bound: float
    violations: int  # thresholds where the interval-corrected rates break the bound
    worst: dict[str, float]  # the threshold giving the lower bound, with its intervals

    def as_dict(self) -> dict[str, object]:
        """Plain-dict form for results.json."""
        return asdict(self)


def _chosen_points(curve: RocCurve, max_thresholds: int) -> np.ndarray:
    """Indices of at most `max_thresholds` ROC thresholds, spread evenly along the curve."""
    count = len(curve.thresholds)
    return np.unique(np.linspace(0, count - 1, min(count, max_thresholds)).round().astype(int))


def _log_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """log(numerator / denominator) where the numerator is positive, else -inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(numerator > 0, np.log(numerator / denominator), -np.inf)


def dp_audit(
    scores: np.ndarray,
    is_member: np.ndarray,
    epsilon: float | None,
    delta: float,
    confidence: float = 0.95,
    max_thresholds: int = 100,
) -> AuditResult:
    """Check the attack (`scores`, higher = member) against (`epsilon`, `delta`)-DP."""
    curve = roc_curve(scores, is_member)
    points = _chosen_points(curve, max_thresholds)
    alpha = (1 - confidence) / (4 * len(points))
    tp, fp = curve.true_positives[points], curve.false_positives[points]
    pos, neg = curve.members, curve.non_members
    tpr_low = clopper_pearson_lower(tp, pos, alpha)
    fpr_high = clopper_pearson_upper(fp, neg, alpha)
    tnr_low = clopper_pearson_lower(neg - fp, neg, alpha)
    fnr_high = clopper_pearson_upper(pos - tp, pos, alpha)
    bound = np.inf if epsilon is None else math.exp(epsilon)
    broken = (tpr_low > bound * fpr_high + delta) | (tnr_low > bound * fnr_high + delta)
    per_point = np.maximum(_log_ratio(tpr_low - delta, fpr_high),
                           _log_ratio(tnr_low - delta, fnr_high))
    best = int(np.argmax(per_point))
    worst = {
        "threshold": float(curve.thresholds[points[best]]),
        "tpr": float(tp[best] / pos), "fpr": float(fp[best] / neg),
        "tpr_low": float(tpr_low[best]), "fpr_high": float(fpr_high[best]),
        "tnr_low": float(tnr_low[best]), "fnr_high": float(fnr_high[best]),
    }
    return AuditResult(
        epsilon=epsilon,
        delta=delta,
        confidence=confidence,
        thresholds_tested=len(points),
        empirical_epsilon_lower_bound=max(0.0, float(per_point[best])),
        violations=0 if epsilon is None else int(broken.sum()),
        worst=worst,
    )
