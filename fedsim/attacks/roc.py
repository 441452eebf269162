"""ROC metrics of a membership score: higher score = "member". Pure functions over arrays.

Conventions follow Carlini et al. 2022 ("Membership Inference Attacks From First
Principles"): TPR at a low FPR is the largest TPR whose FPR does not exceed it, read off
the full ROC curve; AUC is the trapezoid area under that curve (equal to sklearn's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RocCurve:
    """Points of the ROC curve, from (0, 0) to (1, 1); `thresholds[i]` gives point i + 1
    (predict member when score >= threshold); counts are kept for confidence intervals."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    true_positives: np.ndarray  # members at or above each threshold
    false_positives: np.ndarray  # non-members at or above each threshold
    members: int
    non_members: int


def roc_curve(scores: np.ndarray, is_member: np.ndarray) -> RocCurve:
    """The ROC curve of `scores` (higher = member) against boolean `is_member` labels.

    One point per distinct score (ties move together), plus the origin. NaN scores count as
    -inf.
    """
    scores = np.asarray(scores, dtype=np.float64)
    scores = np.where(np.isnan(scores), -np.inf, scores)  # an overflowed loss: least member-like
    labels = np.asarray(is_member, dtype=bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        raise ValueError("ROC needs at least one member and one non-member")
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_labels = scores[order], labels[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(scores) - 1]
    tp = np.cumsum(sorted_labels)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    return RocCurve(
        fpr=np.r_[0.0, fp / negatives],
        tpr=np.r_[0.0, tp / positives],
        thresholds=sorted_scores[last_of_tie],
        true_positives=tp.astype(np.int64),
        false_positives=fp.astype(np.int64),
        members=positives,
        non_members=negatives,
    )


def roc_auc(curve: RocCurve) -> float:
    """Area under the ROC curve (trapezoids; 0.5 = chance)."""
    return float(np.trapezoid(curve.tpr, curve.fpr))


def tpr_at_fpr(curve: RocCurve, max_fpr: float) -> float:
    """The largest TPR among ROC points whose FPR is at most `max_fpr`."""
    return float(curve.tpr[curve.fpr <= max_fpr + 1e-12].max())


def balanced_accuracy(curve: RocCurve) -> float:
    """Best (TPR + TNR) / 2 over all thresholds (the attack's accuracy on balanced sets)."""
    return float(((curve.tpr + 1.0 - curve.fpr) / 2).max())


def attack_metrics(scores: np.ndarray, is_member: np.ndarray) -> dict[str, float]:
    """AUC, TPR at 0.1% and 1% FPR, and balanced accuracy of a membership score."""
    curve = roc_curve(scores, is_member)
    return {
        "auc": roc_auc(curve),
        "tpr_at_0.1%_fpr": tpr_at_fpr(curve, 0.001),
        "tpr_at_1%_fpr": tpr_at_fpr(curve, 0.01),
        "balanced_accuracy": balanced_accuracy(curve),
        "members": curve.members,
        "non_members": curve.non_members,
    }
