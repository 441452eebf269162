"""Sweep results: one row per cell, then mean ± std over seeds per group, with rigor flags."""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

TOO_GOOD = 0.99  # an accuracy-like metric this high points at leakage or a trivial task
SPREAD = 0.25  # std above this fraction of |mean| is flagged as high variability
TINY_SPREAD = 1e-6  # std at most this fraction of |mean| (or exactly 0) is flagged as ~0
CHANCE_AUC, CHANCE_TOL = 0.5, 0.005  # an attack AUC this close to 0.5 on a non-private model
ACCURACY_LIKE = ("acc", "recall")
LEAKAGE = "check for train/test leakage (Split overlap below) or a trivial task"


def group_key(row: dict[str, Any], label_columns: list[str]) -> tuple[str, ...]:
    return tuple(str(row[c]) for c in label_columns)


def flags(metric: str, values: list[float], private: bool = False) -> list[str]:
    """Warnings a careful reviewer would raise about one group's values (course notes: a
    spread across seeds too large or too low is a red flag; so is a result too good)."""
    out = []
    mean = statistics.fmean(values)
    if len(values) > 1 and statistics.stdev(values) <= TINY_SPREAD * abs(mean):
        out.append(f"{metric} identical across seeds (std ~0: is the seed used?)")
    elif len(values) > 1 and statistics.stdev(values) > SPREAD * abs(mean):
        out.append(f"{metric} varies a lot across seeds")
    if any(a in metric for a in ACCURACY_LIKE) and mean >= TOO_GOOD:
        out.append(f"{metric} >= {TOO_GOOD}: too good? {LEAKAGE}")
    if "auc" in metric and not private and abs(mean - CHANCE_AUC) <= CHANCE_TOL:
        out.append(f"{metric} at chance on a non-private model: too good to be true? check "
                   "that the attack's members were trained on and its non-members were not")
    return out


def summarize(rows: list[dict[str, Any]], label_columns: list[str], metrics: list[str]
              ) -> list[dict[str, Any]]:
    """Per group: seeds, and mean/std of each metric over them."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[group_key(row, label_columns)].append(row)
    out = []
    for key, members in groups.items():
        entry: dict[str, Any] = dict(zip(label_columns, key, strict=True))
        entry["seeds"] = sorted(m["seed"] for m in members)
        entry["flags"] = []
        for metric in metrics:
            values = [float(m[metric]) for m in members
                      if metric in m and not math.isnan(float(m[metric]))]
            if values:
                entry[metric] = (statistics.fmean(values),
                                 statistics.stdev(values) if len(values) > 1 else 0.0)
                private = any(m.get("privacy_mode", "none") != "none" for m in members)
                entry["flags"] += flags(metric, values, private)
        out.append(entry)
    return out


def markdown(summary: list[dict[str, Any]], label_columns: list[str], metrics: list[str]) -> str:
    """The grouped table as Markdown (mean ± std over seeds) plus its flags."""
    head = [*label_columns, "seeds", *metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for entry in summary:
        cells = [str(entry[c]) for c in label_columns] + [",".join(map(str, entry["seeds"]))]
        cells += [f"{entry[m][0]:.4f} ± {entry[m][1]:.4f}" if m in entry else "–" for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
        notes += [f"- {' / '.join(cells[:len(label_columns)])}: {f}" for f in entry["flags"]]
    return "\n".join(lines + ([""] + ["Flags:"] + notes if notes else [])) + "\n"


def gallery(rows: list[dict[str, Any]], label_columns: list[str]) -> str:
    """The first seed's images of every group, side by side (one table column per group)."""
    first: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["seed"]):
        first.setdefault(group_key(row, label_columns), row)
    groups = [(key, row) for key, row in first.items() if row.get("images")]
    if not groups:
        return ""
    titles = [" / ".join(key) or "run" for key, _ in groups]
    lines = ["", f"Figures of seed {groups[0][1]['seed']}:", "",
             "| " + " | ".join(titles) + " |", "|" + "---|" * len(groups)]
    depth = max(len(row["images"]) for _, row in groups)
    for i in range(depth):
        cells = [f"![{row['images'][i][0]}]({row['images'][i][1]})" if i < len(row["images"])
                 else "" for _, row in groups]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_tables(sweep_dir: Path, rows: list[dict[str, Any]], label_columns: list[str],
                 metrics: list[str]) -> str:
    """results.csv (a row per cell), results.json and results.md (grouped); returns the md."""
    columns = [*label_columns, "seed", "cell", *metrics, "wall_seconds", "bytes"]
    with (sweep_dir / "results.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    summary = summarize(rows, label_columns, metrics)
    (sweep_dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = markdown(summary, label_columns, metrics) + gallery(rows, label_columns)
    (sweep_dir / "results.md").write_text(text, encoding="utf-8")
    return text
