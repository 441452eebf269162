"""The report's Clients section: partition histogram, client sizes and last-round spread."""

from __future__ import annotations

from fedsim.report import fmt, plots
from fedsim.report.load import RunRecord
from fedsim.report.partition import client_size_rows
from fedsim.report.series import client_spread, last_client_round

MAX_CLIENT_ROWS = 100  # a 100k-client population gets its first 100 rows in the report


def _partition(run: RunRecord, figures: set[str]) -> list[str]:
    partition = run.partition
    if partition is None:
        return []
    totals = partition.client_totals()
    lines = [
        "### Partition",
        "",
        f"Partitioner `{partition.partitioner}`: {len(totals)} clients, "
        f"{len(partition.class_names)} classes, {sum(totals):,} examples in total"
        + (f" (min {min(totals):,}, max {max(totals):,} per client)." if totals else "."),
    ]
    if plots.PARTITION in figures:
        lines += ["", f"![Examples per class per client]({plots.PARTITION})"]
    headers = ["client", "examples", "classes present", "largest class (share)"]
    rows = client_size_rows(partition, MAX_CLIENT_ROWS)
    more = len(totals) - len(rows)
    tail = ["", f"({more:,} more clients: see `partition.json`.)"] if more > 0 else []
    return lines + ["", *fmt.table(headers, rows), *tail]


def _spread(run: RunRecord) -> list[str]:
    record = last_client_round(run.rounds)
    if record is None:
        return []
    rows = [
        [
            s.stage,
            s.metric,
            str(s.clients),
            fmt.number(s.low),
            fmt.number(s.median),
            fmt.number(s.high),
        ]
        for s in client_spread(record)
    ]
    if not rows:
        return []
    lines = [f"### Spread across clients, round {record['round']}", ""]
    if record is not run.rounds[-1]:
        lines += [f"(Round {run.rounds[-1]['round']} has no client replies.)", ""]
    return lines + fmt.table(["stage", "metric", "clients", "min", "median", "max"], rows)


def clients(run: RunRecord, figures: set[str]) -> list[str]:
    """Partition and per-client spread; empty (section omitted) when neither is recorded."""
    parts = [part for part in (_partition(run, figures), _spread(run)) if part]
    if not parts:
        return []
    lines = ["## Clients"]
    for part in parts:
        lines += ["", *part]
    return lines
