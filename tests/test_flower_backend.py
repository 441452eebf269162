"""The reference path: Flower's own simulation runtime runs the same apps to the same model."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import run_config, small_config


def test_flower_backend_matches_fedsim_engine(runs_dir: Path) -> None:
    """Full participation: only the summation order of replies may differ (node ids differ)."""
    cfg = ("data.num_clients=3", "strategy.federated_eval=false")
    ours, summary, w_ours = run_config(small_config(runs_dir, *cfg))
    theirs, ref, w_ref = run_config(small_config(runs_dir, *cfg, "run.backend=flower"))
    assert ref["backend"] == "flower" and (theirs / "report.md").exists()
    assert max(float((w_ours[k] - w_ref[k]).abs().max()) for k in w_ours) < 1e-5
