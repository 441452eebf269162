"""Attack sections of the report.

- `malicious`: the malicious clients of the run (summary.json "attack") and, for a
  backdoor, its success rate on the final dev/test sets.
- `attack_outputs`: every RUN_DIR/attacks/<name>/results.json, whatever wrote it
  (`fedsim attack`, or `[attack]` inside a run). Membership-inference results (an "attacks"
  table of ROC metrics and DP audits) become a table; any other kind shows its top-level
  numbers. A "plot" entry names a PNG beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fedsim.report.load import RunRecord

BACKDOOR_SUCCESS = "backdoor_success"  # fedsim.attacks.backdoor.SUCCESS_KEY
COLUMNS = (("auc", "AUC"), ("tpr_at_0.1%_fpr", "TPR@0.1%FPR"), ("tpr_at_1%_fpr", "TPR@1%FPR"),
           ("balanced_accuracy", "bal. acc."))


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) and not isinstance(value, bool) \
        else str(value)


def _audit_cells(audit: dict[str, Any]) -> list[str]:
    eps = audit.get("epsilon")
    return [_number(audit.get("empirical_epsilon_lower_bound", "")),
            "-" if eps is None else _number(eps),
            "-" if eps is None else str(audit.get("violations", ""))]


def _table(attacks: dict[str, dict[str, Any]]) -> list[str]:
    head = ["attack", *(label for _, label in COLUMNS), "eps lower bound", "accounted eps",
            "violations"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, values in attacks.items():
        cells = [name, *(_number(values.get(key, "")) for key, _ in COLUMNS),
                 *_audit_cells(values.get("audit") or {})]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _describe(results: dict[str, Any]) -> str:
    parts = [f"{key}: {_number(results[key])}" for key in
             ("target", "target_client", "members", "non_members", "non_member_source",
              "shadow_models") if results.get(key) is not None]
    return "; ".join(parts)


def _one(folder: Path, run_dir: Path) -> list[str]:
    try:
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        return ["", f"### {folder.name}", "", f"results.json is unreadable ({err})"]
    kind = results.get("kind", folder.name)
    lines = ["", f"### {folder.name}" + ("" if kind == folder.name else f" ({kind})"), ""]
    if isinstance(results.get("attacks"), dict):
        lines += [_describe(results), "", *_table(results["attacks"])]
    elif results.get("headline"):
        lines += [str(results["headline"])]
    else:
        lines += [f"- {k}: {_number(v)}" for k, v in results.items()
                  if isinstance(v, int | float | str) and not isinstance(v, bool)]
    table = results.get("table")
    if isinstance(table, str) and (folder / table).is_file():
        lines += ["", (folder / table).read_text(encoding="utf-8").strip()]
    plot = results.get("plot")
    if plot and (folder / plot).is_file():
        rel = (folder / plot).relative_to(run_dir).as_posix()
        lines += ["", f"![{folder.name}]({rel})"]
    return lines


def malicious(run: RunRecord) -> list[str]:
    """The "Malicious clients" section, or nothing when every client was honest."""
    attack = run.summary.get("attack") or {}
    if attack.get("behaviour", "none") == "none":
        return []
    clients = ", ".join(str(c) for c in attack.get("malicious_clients", [])) or "none"
    lines = ["## Malicious clients", "",
             f"- behaviour: {attack['behaviour']}",
             f"- malicious fraction: {_number(attack.get('malicious_fraction', 0.0))} "
             f"(partitions {clients})",
             f"- collusion: {attack.get('collusion', False)}"]
    final = run.summary.get("final") or {}
    for split in ("dev", "test"):
        success = (final.get(split) or {}).get(BACKDOOR_SUCCESS)
        if success is not None:
            lines.append(f"- backdoor success on {split}: {_number(success)}")
    return lines


def attack_outputs(run: RunRecord) -> list[str]:
    """The "Attacks" section, or nothing when no attack was run on this run directory."""
    root = run.run_dir / "attacks"
    folders = sorted(p for p in root.glob("*") if (p / "results.json").is_file()) \
        if root.is_dir() else []
    if not folders:
        return []
    lines = ["## Attacks on this run", "",
             "Membership inference: AUC 0.5 = chance; the DP audit's epsilon lower bound comes "
             "from Clopper-Pearson limits (95%, Bonferroni over thresholds); a violation means "
             "the attack beat TPR <= e^eps FPR + delta for the accounted epsilon."]
    for folder in folders:
        lines += _one(folder, run.run_dir)
    return lines
