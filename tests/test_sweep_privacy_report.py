"""The privacy-utility-attack sweep report: dotted summary metrics, the table against the
cells' own summary.json, and the lines of the plot (each DP line starts at its no-DP run)."""

from __future__ import annotations

import csv
import json
import math
import re
import statistics
from pathlib import Path

from fedsim.sweep.privacy_groups import INF, privacy_groups
from fedsim.sweep.privacy_plot import privacy_lines
from fedsim.sweep.summary_path import metric_column, summary_value

SUMMARY = {"final": {"dev": {"accuracy": 0.5}},
           "privacy": {"epsilon": None, "mode": "none"},
           "attacks": {"mia": {"attacks": {"loss": {"auc": 0.625, "tpr_at_0.1%_fpr": 0.03,
                                                    "audit_violations": 2}}}},
           "flag": True}

SPEC = """
[sweep]
name = "tiny_privacy"
seeds = [0]
set = ["run.rounds=2", "data.num_clients=3", "data.partitioner=iid", "task.model=mlp",
       "client.local_steps=3", "client.batch_size=8", "strategy.federated_eval=false",
       "data.train_examples=60", "attack.mia=true", "attack.mia_examples=30"]
metrics = ["accuracy", "attacks.mia.attacks.loss.auc", "privacy.epsilon"]
plots = ["privacy_utility", "privacy_table"]
[[variant]]
axis = "mia"
name = "global"
set = ["attack.mia_target=global"]
[[variant]]
axis = "setting"
name = "none"
set = ["privacy.mode=none"]
[[variant]]
axis = "setting"
name = "user-eps8"
set = ["privacy.mode=user", "privacy.clipping_side=client", "privacy.target_epsilon=8"]
"""


def test_summary_paths_read_nested_keys_with_dots() -> None:
    assert metric_column("accuracy") == "dev_accuracy"
    assert metric_column("privacy.epsilon") == "privacy.epsilon"
    assert summary_value(SUMMARY, "attacks.mia.attacks.loss.tpr_at_0.1%_fpr") == 0.03
    assert summary_value(SUMMARY, "attacks.mia.attacks.loss.audit_violations") == 2.0
    assert math.isnan(summary_value(SUMMARY, "privacy.epsilon"))  # null: no DP
    assert summary_value(SUMMARY, "attacks.mia.attacks.lira.auc") is None
    assert summary_value(SUMMARY, "privacy.mode") is None  # not a number
    assert summary_value(SUMMARY, "flag") is None


def _row(mode: str, secagg: bool, eps: float, seed: int, acc: float, auc: float) -> dict:
    scores = {"auc": auc, "tpr_at_0.1%_fpr": auc / 10, "audit_violations": seed,
              "epsilon_lower_bound": auc - 0.5}
    return {"privacy_mode": mode, "secagg_enabled": secagg, "target_epsilon": eps, "seed": seed,
            "epsilon_accounted": None if mode == "none" else eps * 0.99, "dev_accuracy": acc,
            "mia_results": {"target": "global", "attacks": {"loss": scores}}}


def test_groups_and_lines_start_at_the_matching_baseline() -> None:
    rows = [_row("none", False, 0.0, s, 0.9 + s / 100, 0.7) for s in (0, 1)]
    rows += [_row("none", True, 0.0, s, 0.8, 0.6 + s / 10) for s in (0, 1)]
    rows += [_row("record", False, 4.0, s, 0.5, 0.55) for s in (0, 1)]
    rows += [_row("user", True, 4.0, 0, 0.2, 0.5)]
    groups = privacy_groups(rows, "dev_accuracy")
    by_name = {(g.mechanism, g.epsilon): g for g in groups}
    assert set(by_name) == {("none", INF), ("none+secagg", INF), ("record", 4.0),
                            ("user+secagg", 4.0)}
    base = by_name[("none", INF)]
    assert base.utility == (statistics.fmean([0.9, 0.91]), statistics.stdev([0.9, 0.91]))
    assert base.violations == 1 and base.seeds == (0, 1) and math.isnan(base.accounted)
    assert by_name[("record", 4.0)].accounted == 3.96
    assert math.isclose(by_name[("none+secagg", INF)].lower_bound, 0.2)
    lines = privacy_lines(groups)
    assert set(lines) == {("record", "global", "loss"), ("user+secagg", "global", "loss")}
    assert lines[("record", "global", "loss")][INF] is base
    assert lines[("user+secagg", "global", "loss")][INF] is by_name[("none+secagg", INF)]
    assert lines[("record", "global", "loss")][4.0] is by_name[("record", 4.0)]


def _table_rows(text: str) -> dict[str, list[str]]:
    section = text.split("## Privacy, utility and membership inference")[1]
    rows = [line.strip("|").split(" | ") for line in section.splitlines()
            if line.startswith("| ") and "---" not in line]
    return {r[0].strip(): [c.strip() for c in r] for r in rows[1:]}


def test_privacy_sweep_table_matches_the_cells(cli, tmp_path: Path) -> None:
    spec = tmp_path / "tiny_privacy.toml"
    spec.write_text(SPEC)
    code, out, err = cli("sweep", str(spec), "--sweeps-dir", str(tmp_path / "sweeps"))
    assert code == 0, err
    sweep_dir = Path(out.strip().splitlines()[-1])
    assert (sweep_dir / "privacy_utility.png").stat().st_size > 10_000
    table = _table_rows((sweep_dir / "results.md").read_text())
    assert set(table) == {"none", "user"}
    for cell in csv.DictReader((sweep_dir / "results.csv").open()):
        summary = json.loads(next((sweep_dir / "cells" / cell["cell"]).glob(
            "*/summary.json")).read_text())
        loss = summary["attacks"]["mia"]["attacks"]["loss"]
        assert float(cell["attacks.mia.attacks.loss.auc"]) == loss["auc"]
        row = table[summary["privacy"]["mode"]]
        assert row[6] == f"{summary['final']['dev']['accuracy']:.4f} ± 0.0000"
        assert row[7] == f"{loss['auc']:.4f} ± 0.0000"
        assert row[8] == f"{loss['tpr_at_0.1%_fpr']:.4f} ± 0.0000"
        assert row[9] == str(loss["audit_violations"])
        eps = summary["privacy"]["epsilon"]
        assert row[2] == ("–" if eps is None else f"{eps:.3g}")
        assert row[1] == ("∞" if eps is None else "8")
    assert re.search(r"\| global \| user-eps8 \| 0 \| [0-9.]+ ± 0\.0000 \| [0-9.]+ ± 0\.0000 \| "
                     r"[0-9.]+ ± 0\.0000 \|", (sweep_dir / "results.md").read_text())
