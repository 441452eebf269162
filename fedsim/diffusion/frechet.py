"""Frechet distance between two sets of feature vectors (the formula behind FID).

d^2 = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2}), with mu, S the mean and
covariance of each set. fedsim computes it on the penultimate features of a small CNN
classifier trained centrally on the same data set (`feature_net`), NOT on Inception-v3
features: values are comparable between runs on one data set, not with published FIDs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg


@dataclass(frozen=True)
class FeatureStats:
    """Mean [D] and covariance [D, D] of a set of feature vectors (float64)."""

    mean: np.ndarray
    cov: np.ndarray

    @classmethod
    def of(cls, features: np.ndarray) -> FeatureStats:
        """Statistics of `features` [N, D] (N >= 2)."""
        x = np.asarray(features, dtype=np.float64)
        return cls(x.mean(axis=0), np.cov(x, rowvar=False))


def frechet_distance(a: FeatureStats, b: FeatureStats) -> float:
    """Squared Frechet distance between the Gaussians fitted to `a` and `b` (>= 0)."""
    with warnings.catch_warnings():  # singular covariances (fewer samples than features)
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(a.cov @ b.cov)
    if not np.isfinite(root).all():  # nearly singular product: regularise as pytorch-fid does
        eps = np.eye(len(a.cov)) * 1e-6
        root = linalg.sqrtm((a.cov + eps) @ (b.cov + eps))
    diff = a.mean - b.mean
    value = diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2 * np.trace(np.real(root))
    return float(max(value, 0.0))
