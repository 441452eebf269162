"""ROC metrics of membership scores: against sklearn, and exact on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from fedsim.attacks.roc import attack_metrics, balanced_accuracy, roc_auc, roc_curve, tpr_at_fpr

scores_and_labels = st.integers(2, 60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(-5, 5), min_size=n, max_size=n),  # small range: many ties
        st.lists(st.booleans(), min_size=n, max_size=n),
    )
).filter(lambda sl: 0 < sum(sl[1]) < len(sl[1]))


@settings(max_examples=200, deadline=None)
@given(scores_and_labels)
def test_auc_and_curve_match_sklearn(case: tuple[list[int], list[bool]]) -> None:
    scores, labels = np.array(case[0], dtype=float), np.array(case[1])
    curve = roc_curve(scores, labels)
    assert roc_auc(curve) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    fpr, tpr, thr = sk_roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(curve.fpr, fpr)
    np.testing.assert_allclose(curve.tpr, tpr)
    np.testing.assert_allclose(curve.thresholds, thr[1:])


@settings(max_examples=100, deadline=None)
@given(scores_and_labels)
def test_balanced_accuracy_is_the_best_threshold_rule(case: tuple[list[int], list[bool]]) -> None:
    scores, labels = np.array(case[0], dtype=float), np.array(case[1])
    best = max(
        (np.mean((scores >= t)[labels]) + np.mean((scores < t)[~labels])) / 2
        for t in [*np.unique(scores), np.inf]
    )
    assert balanced_accuracy(roc_curve(scores, labels)) == pytest.approx(best)


def test_tpr_at_fpr_hand_case() -> None:
    # members 10, 9, 7, 3; non-members 8, 2, 1, 0 -> thresholds 10 9 8 7 3 2 1 0
    scores = np.array([10, 9, 7, 3, 8, 2, 1, 0], dtype=float)
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    curve = roc_curve(scores, labels)
    assert tpr_at_fpr(curve, 0.0) == 0.5  # 10 and 9 above every non-member
    assert tpr_at_fpr(curve, 0.001) == 0.5
    assert tpr_at_fpr(curve, 0.25) == 1.0  # threshold 3: one false positive (8)
    assert roc_auc(curve) == pytest.approx(14 / 16)  # 16 pairs, 8 < 7 and 8 < 3 lost
    assert balanced_accuracy(curve) == pytest.approx((1.0 + 0.75) / 2)


def test_ties_move_together() -> None:
    curve = roc_curve(np.array([1.0, 1.0, 0.0]), np.array([True, False, False]))
    np.testing.assert_allclose(curve.tpr, [0, 1, 1])
    np.testing.assert_allclose(curve.fpr, [0, 0.5, 1])


def test_chance_and_perfect_scores() -> None:
    labels = np.r_[np.ones(500, bool), np.zeros(500, bool)]
    perfect = attack_metrics(labels.astype(float), labels)
    assert perfect["auc"] == 1.0 and perfect["tpr_at_0.1%_fpr"] == 1.0
    noise = attack_metrics(np.random.default_rng(0).normal(size=1000), labels)
    assert abs(noise["auc"] - 0.5) < 0.05  # sd of AUC under H0 here is about 0.018


def test_roc_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="one member and one non-member"):
        roc_curve(np.zeros(3), np.ones(3, bool))
