"""Report sections over rounds: training curves, failures and the per-round table."""

from __future__ import annotations

from fedsim.report import fmt, plots
from fedsim.report.load import RunRecord
from fedsim.report.series import failures_by_round, metric_keys, series

# (section in metrics.jsonl, label used in the report)
_SECTIONS = (("train", "train"), ("dev", "dev"), ("federated_eval", "federated eval"))


def _trend(run: RunRecord, section: str, label: str, key: str) -> str | None:
    """One line: first -> last value of a metric, with its min and max over rounds."""
    xs, ys = series(run.rounds, section, key)
    if not xs:
        return None
    low, high = min(ys), max(ys)
    return (
        f"- {label} {key}: {fmt.number(ys[0])} (round {xs[0]}) → {fmt.number(ys[-1])} "
        f"(round {xs[-1]}); min {fmt.number(low)} at round {xs[ys.index(low)]}, "
        f"max {fmt.number(high)} at round {xs[ys.index(high)]}"
    )


def curves(run: RunRecord, figures: set[str]) -> list[str]:
    """Loss curves (train and dev together) and dev metric curves, with one-line trends."""
    lines = ["## Training curves", ""]
    lines.append(
        "Round 0 is the initial model, before any training; train loss is the clients' "
        "loss during local training, weighted by their number of examples."
    )
    if plots.CURVES in figures:
        lines += ["", f"![Train and dev loss per round]({plots.CURVES})"]
    if plots.METRICS in figures:
        lines += ["", f"![Dev metrics per round]({plots.METRICS})"]
    trends = [
        _trend(run, section, label, key)
        for section, label in _SECTIONS
        for key in metric_keys(run.rounds, section)
    ]
    return lines + ["", *(t for t in trends if t)]


def failures(run: RunRecord) -> list[str]:
    """Failed client replies per round; empty (section omitted) when nothing failed."""
    per_round = failures_by_round(run.rounds)
    total = run.summary.get("failures")
    if not per_round and not (fmt.is_number(total) and total > 0):
        return []
    lines = ["## Failures", ""]
    if not per_round:
        return lines + [f"summary.json counts {total} failures; metrics.jsonl lists none."]
    rows = [
        [str(r), str(n), ", ".join(f"{s}: {c}" for s, c in sorted(st.items())), "; ".join(why)]
        for r, n, st, why in per_round
    ]
    count = sum(n for _, n, _, _ in per_round)
    lines += [
        f"Failed client replies: {count}, in {len(per_round)} of {len(run.rounds)} rounds.",
        "",
        *_by_client(run.summary.get("failed_clients")),
    ]
    return lines + fmt.table(["round", "failures", "by stage", "reasons"], rows)


def _by_client(counts: object) -> list[str]:
    """One line naming each failing client (partition id) and how often it failed."""
    if not isinstance(counts, dict) or not counts:
        return []
    ranked = sorted(counts.items(), key=lambda item: (-int(item[1]), str(item[0])))
    return ["By client (partition: failed replies): "
            + ", ".join(f"{client}: {n}" for client, n in ranked), ""]


def _record_cells(record: dict, section: str, keys: tuple[str, ...]) -> list[str]:
    values = record.get(section)
    values = values if isinstance(values, dict) else {}
    return [fmt.number(values.get(key)) for key in keys]


def round_table(run: RunRecord) -> list[str]:
    """One row per round: losses, every metric, timings, traffic and failures."""
    columns = [(s, label, metric_keys(run.rounds, s)) for s, label in _SECTIONS]
    headers = ["round"] + [f"{label} {key}" for _, label, keys in columns for key in keys]
    headers += ["round s", "wall s", "sent", "received", "failures"]
    rows = []
    for record in run.rounds:
        row = [str(record["round"])]
        for section, _, keys in columns:
            row += _record_cells(record, section, keys)
        traffic = record.get("bytes") if isinstance(record.get("bytes"), dict) else {}
        row += [
            fmt.number(record.get("round_seconds")),
            fmt.number(record.get("wall_seconds")),
            fmt.count(traffic.get("sent")),
            fmt.count(traffic.get("received")),
            str(len(record.get("failures") or [])),
        ]
        rows.append(row)
    return ["## Per-round table", "", *fmt.table(headers, rows)]
