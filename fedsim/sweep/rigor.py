"""The reproducibility and reporting checklist of a sweep (course notes, "Best practices"):
seeds, how the hyper-parameters were chosen, split overlap, loss curves, time, hardware and
versions. Written as a Markdown section under the results table, and as manifest.json.
"""

from __future__ import annotations

from typing import Any

from fedsim.data.overlap import HELDOUT_PAIRS, PAIRS
from fedsim.sweep.spec import NOT_STATED, SweepSpec


def overlap_totals(rows: list[dict[str, Any]]) -> dict[str, int] | None:
    """Per pair of splits, the largest number of shared rows any cell's data had (None when
    no cell recorded it: runs made before the check existed)."""
    found = [r["overlap"] for r in rows if isinstance(r.get("overlap"), dict)]
    if not found:
        return None
    rank = {f"{a}_{b}": i for i, (a, b) in enumerate(PAIRS + HELDOUT_PAIRS)}
    pairs = sorted({k for o in found for k in o}, key=lambda k: (rank.get(k, len(rank)), k))
    return {k: max(int(o.get(k, 0)) for o in found) for k in pairs}


def overlap_line(rows: list[dict[str, Any]]) -> str:
    """The split-overlap check as one checklist line, flagged when any split shares rows."""
    totals = overlap_totals(rows)
    if totals is None:
        return "- Split overlap (hash of inputs): **not recorded** by these runs"
    text = ", ".join(f"{k.replace('_', '∩')} {v}" for k, v in totals.items())
    flag = " — **FLAG: shared rows, results may be leaked**" if any(totals.values()) else ""
    return f"- Split overlap (rows with byte-identical inputs, max over cells): {text}{flag}"


def hparams_line(spec: SweepSpec) -> str:
    """How the hyper-parameters were chosen, flagged when the spec does not say."""
    if spec.hparams == NOT_STATED:
        return ("- Hyper-parameters chosen by: **not stated — FLAG** (add `[sweep] hparams` to "
                "the spec)")
    return f"- Hyper-parameters chosen by: {spec.hparams}"


def _invocations(manifest: dict[str, Any]) -> str:
    calls = manifest.get("invocations") or [{"seconds": manifest["sweep_seconds"]}]
    total = sum(float(c["seconds"]) for c in calls)
    return f"{len(calls)} invocation(s) of the command so far, {total:.1f} s in all"


def _versions(manifest: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in manifest["packages"].items())


def rigor_section(spec: SweepSpec, rows: list[dict[str, Any]], manifest: dict[str, Any],
                  curves: str | None) -> str:
    """The checklist as Markdown."""
    hw = manifest["hardware"]
    cell_seconds = sum(float(r["wall_seconds"]) for r in rows)
    lines = [
        "", "## Reproducibility checklist", "",
        f"- Seeds: {', '.join(map(str, spec.seeds))} (every group: mean ± std over them; "
        "flags above mark spreads that are implausibly large or ~0)",
        hparams_line(spec),
        overlap_line(rows),
        f"- Cells: {len(rows)}; run time of all cells {cell_seconds:.1f} s; this invocation "
        f"{manifest['sweep_seconds']:.1f} s ({manifest['cells_run']} cells run now); "
        f"{_invocations(manifest)}",
        f"- Hardware: {hw['cpu']}, {hw['cpus']} CPUs, {hw['memory_gb']} GB, GPU {hw['gpu']}; "
        f"{hw['platform']}; load average at the end {manifest['load_average']}",
        f"- Versions: python {manifest['python']}, {_versions(manifest)}; "
        f"git {manifest['git_commit']}",
    ]
    if curves:
        lines += ["", "Train and dev loss of every cell:", "", f"![loss curves]({curves})"]
    return "\n".join(lines) + "\n"
