"""The privacy-utility-attack table of a sweep: per mechanism, target epsilon, MIA target and
attack score, the utility, the attack's AUC and TPR at 0.1% FPR, and the DP audit next to
the accounted epsilon (mean ± std over seeds; violations summed; the lower bound's max).

Everything is read from the cells' own records (sweep row facts filled from summary.json
and config.toml), not from the variant names: the mechanism is ``privacy.mode`` plus
"+secagg" when SecAgg+ ran, epsilon is ``privacy.target_epsilon`` (inf without DP).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

INF = math.inf
AUC, TPR = "auc", "tpr_at_0.1%_fpr"
# each DP mechanism's line starts (epsilon = inf) at the run without DP of the same transport
BASELINE = {"record": "none", "user": "none", "user+secagg": "none+secagg"}
Stats = tuple[float, float]


@dataclass(frozen=True)
class PrivacyGroup:
    """One table row: a (mechanism, target epsilon, MIA target, attack) group over seeds."""

    mechanism: str
    epsilon: float
    target: str
    attack: str
    seeds: tuple[int, ...]
    utility: Stats
    accounted: float  # largest accounted epsilon over the seeds (NaN without DP)
    auc: Stats
    tpr: Stats
    violations: int
    lower_bound: float


def mechanism(row: dict[str, Any]) -> str:
    """``none``, ``record``, ``user``, each with ``+secagg`` when SecAgg+ masked the updates."""
    return str(row["privacy_mode"]) + ("+secagg" if row.get("secagg_enabled") else "")


def target_epsilon(row: dict[str, Any]) -> float:
    """The epsilon the cell aimed at: target_epsilon, else what was accounted, else inf."""
    if row["privacy_mode"] == "none":
        return INF
    return float(row.get("target_epsilon") or row.get("epsilon_accounted") or INF)


def stats(values: list[float]) -> Stats:
    """Mean and sample standard deviation (0 for one value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _key(row: dict[str, Any], attack: str) -> tuple[str, float, str, str]:
    return mechanism(row), target_epsilon(row), str(row["mia_results"]["target"]), attack


def _group(key: tuple[str, float, str, str], members: list[dict[str, Any]], utility: str
           ) -> PrivacyGroup:
    scores = [m["mia_results"]["attacks"][key[3]] for m in members]
    accounted = [float(m["epsilon_accounted"]) for m in members
                if m.get("epsilon_accounted") is not None]
    return PrivacyGroup(
        *key, seeds=tuple(sorted(int(m["seed"]) for m in members)),
        utility=stats([float(m[utility]) for m in members]),
        accounted=max(accounted) if accounted else math.nan,
        auc=stats([float(s[AUC]) for s in scores]), tpr=stats([float(s[TPR]) for s in scores]),
        violations=sum(int(s["audit_violations"]) for s in scores),
        lower_bound=max(float(s["epsilon_lower_bound"]) for s in scores))


def privacy_groups(rows: list[dict[str, Any]], utility: str) -> list[PrivacyGroup]:
    """The table's groups, for every row that ran a membership-inference attack, ordered by
    mechanism, MIA target, attack, then epsilon from inf down."""
    groups: dict[tuple[str, float, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        for attack in (row.get("mia_results") or {}).get("attacks", {}):
            groups[_key(row, attack)].append(row)
    order = sorted(groups, key=lambda k: (k[0], k[2], k[3], -k[1]))
    return [_group(key, groups[key], utility) for key in order]


def _pm(value: Stats) -> str:
    return f"{value[0]:.4f} ± {value[1]:.4f}"


def _eps(value: float) -> str:
    return "∞" if value == INF else ("–" if math.isnan(value) else f"{value:.3g}")


def privacy_table(groups: list[PrivacyGroup], utility: str) -> str:
    """The groups as a Markdown table."""
    head = ["mechanism", "ε target", "ε accounted", "MIA target", "attack", "seeds", utility,
            "AUC", "TPR@0.1%FPR", "audit violations", "ε lower bound"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups:
        cells = [g.mechanism, _eps(g.epsilon), _eps(g.accounted), g.target, g.attack,
                 ",".join(map(str, g.seeds)), _pm(g.utility), _pm(g.auc), _pm(g.tpr),
                 str(g.violations), f"{g.lower_bound:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
