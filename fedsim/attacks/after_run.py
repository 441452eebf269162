"""The run's own `[attack]` membership inference: hooks the engine calls (session.py).

`update_capture` gives the server's grid the recorder of client k's update when the run
attacks one client; `attack_finished_run` attacks the finished run directory with the
run's own [attack] keys and adds the results to summary.json under "attacks".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fedsim.attacks.capture import UpdateCapture
from fedsim.config import Config
from fedsim.tracking.run_dir import write_json

HEADLINE_KEYS = ("auc", "tpr_at_0.1%_fpr", "tpr_at_1%_fpr", "balanced_accuracy")


def update_capture(cfg: Config, run_dir: Path) -> UpdateCapture | None:
    """The capture of the attacked client's update, or None when no client is attacked."""
    a = cfg.attack
    if a.mia_target != "client":  # recorded even without mia = true: `fedsim attack` later
        return None
    return UpdateCapture(run_dir, a.target_client, a.target_round or cfg.run.rounds)


def _headline(results: dict[str, Any]) -> dict[str, Any]:
    """The results without per-threshold detail: metrics and audit bound per attack."""
    attacks = {
        name: {**{k: v[k] for k in HEADLINE_KEYS},
               "epsilon_lower_bound": v["audit"]["empirical_epsilon_lower_bound"],
               "audit_violations": v["audit"]["violations"]}
        for name, v in results["attacks"].items()
    }
    keep = ("target", "target_client", "members", "non_members", "shadow_models")
    return {**{k: results[k] for k in keep}, "attacks": attacks}


def attack_finished_run(cfg: Config, run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """Run `[attack] mia` on the finished run; the summary with "attacks" added (rewritten)."""
    if not cfg.attack.mia:
        return summary
    from fedsim.attacks.mia import run_mia

    results = run_mia(run_dir, {})
    summary = {**summary, "attacks": {**summary.get("attacks", {}), "mia": _headline(results)}}
    write_json(run_dir / "summary.json", summary)
    return summary
