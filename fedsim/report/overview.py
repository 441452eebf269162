"""Report sections about the run as a whole: title, summary table, warnings, privacy."""

from __future__ import annotations

from typing import Any

from fedsim.report import fmt
from fedsim.report.load import RunRecord


def title(run: RunRecord) -> list[str]:
    """Heading naming task, dataset and strategy, and the run directory's name."""
    s = run.summary
    name = f"{s.get('task', '?')} on {s.get('dataset', '?')} with {s.get('strategy', '?')}"
    return [f"# fedsim run: {name}", "", f"Run directory: `{run.run_dir.name}`"]


def _final_metrics(final: Any) -> list[str]:
    final = final if isinstance(final, dict) else {}
    splits = {split: values for split, values in final.items() if isinstance(values, dict)}
    keys: dict[str, None] = {}
    for values in splits.values():
        keys.update((key, None) for key in values)
    if not keys:
        return ["Final metrics were not recorded in summary.json."]
    rows = [[split, *(fmt.number(values.get(k)) for k in keys)] for split, values in splits.items()]
    return fmt.table(["split", *keys], rows)


def summary(run: RunRecord) -> list[str]:
    """Final dev/test metrics and the run's key facts, from summary.json."""
    s = run.summary
    traffic = s.get("bytes") if isinstance(s.get("bytes"), dict) else {}
    facts = [
        ("rounds", fmt.number(s.get("rounds"))),
        ("clients", fmt.number(s.get("num_clients"))),
        ("seed", fmt.number(s.get("seed"))),
        ("backend", fmt.number(s.get("backend"))),
        ("wall time", fmt.seconds(s.get("wall_seconds"))),
        ("bytes sent", fmt.byte_size(traffic.get("sent"))),
        ("bytes received", fmt.byte_size(traffic.get("received"))),
        ("failures", fmt.number(s.get("failures"))),
        ("weights_sha256", f"`{s['weights_sha256']}`" if s.get("weights_sha256") else fmt.MISSING),
    ]
    lines = ["## Summary", "", "Final metrics (model after the last round):", ""]
    lines += _final_metrics(s.get("final"))
    return lines + ["", *fmt.table(["item", "value"], facts)]


def warnings(run: RunRecord) -> list[str]:
    """Optional files that exist but could not be read (their sections are left out)."""
    if not run.warnings:
        return []
    return ["## Warnings", "", *(f"- {fmt.cell(w)}" for w in run.warnings)]


def _secagg_enabled(run: RunRecord) -> bool | None:
    """Whether config.toml turned SecAgg+ on; None when there is no readable config."""
    if run.config is None:
        return None
    section = run.config.get("secagg")
    return bool(section.get("enabled", False)) if isinstance(section, dict) else False


def privacy(run: RunRecord) -> list[str]:
    """What the server could see: plain words when unprotected, the privacy fields otherwise."""
    info = run.summary.get("privacy")
    lines = ["## Privacy", ""]
    if not isinstance(info, dict):
        return lines + ["Privacy settings were not recorded in summary.json."]
    secagg = _secagg_enabled(run)
    if info.get("mode", "none") == "none" and not secagg:
        lines.append(
            "**No protection.** No differential privacy, no secure aggregation: "
            "the server sees every client update in the clear."
        )
        if secagg is None:
            lines.append("(config.toml unavailable: secure aggregation assumed off.)")
        return lines
    if info.get("mode", "none") == "none":
        lines.append(
            "No differential privacy. Secure aggregation (SecAgg+) is on: the server sees only "
            "the sum of the client updates, but that sum is not noised."
        )
        return lines
    rows = [[str(key), fmt.number(value)] for key, value in info.items()]
    state = {True: "on", False: "off", None: "unknown (no config.toml)"}[secagg]
    return lines + fmt.table(["field", "value"], rows) + ["", f"Secure aggregation: {state}."]
