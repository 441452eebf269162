"""The report's privacy section, in every report: what protects the clients, how much
(epsilon, delta), by which accountant, and what is NOT protected.

Everything comes from summary.json's ``privacy`` (fedsim.privacy.ledger) and config.toml's
``secagg`` table; a run directory from before these fields still gets a section.
"""

from __future__ import annotations

from typing import Any

from fedsim.report import fmt, overview
from fedsim.report.load import RunRecord

MAX_CLIENT_ROWS = 20
USER_SAMPLING_NOTE = (
    "The epsilon row is proven for what ran: Flower samples exactly m clients without "
    "replacement and averages their m replies, so replacing one client's data moves the mean "
    "by up to 2C/m, a Gaussian mechanism with noise multiplier z/2 per round; no "
    "amplification by sampling is claimed (loose). The 'Poisson approximation' row is the "
    "number DP-FedAvg papers report (Opacus' analysis of Poisson sampling of clients at rate "
    "q = clients per round / clients, add/remove neighbours), shown for comparison only: it "
    "is not a guarantee of this run.")


def _secagg(run: RunRecord) -> bool | None:
    if run.config is None:
        return None
    section = run.config.get("secagg")
    return bool(section.get("enabled", False)) if isinstance(section, dict) else False


def _facts(info: dict[str, Any]) -> list[list[str]]:
    user = info.get("mode") == "user"
    rows = [
        ("mode", info.get("mode")),
        ("mechanism", info.get("mechanism")),
        ("unit of privacy", info.get("unit")),
        ("clipping", info.get("clipping")),
        ("noise multiplier", info.get("noise_multiplier") if user else "per client, below"),
        ("sampling rate", info.get("sample_rate") if user else "per client, below"),
        ("steps accounted", info.get("steps") if user else "per client, below"),
        ("epsilon", info.get("epsilon")),  # record-level: the largest client's
        *([("epsilon, Poisson approximation (not a guarantee, see below)",
            info["epsilon_poisson_approximation"])]
          if user and "epsilon_poisson_approximation" in info else []),
        ("delta", info.get("delta")),
        ("accountant", info.get("accountant")),
        ("budget (epsilon)", info.get("budget")),
        ("rounds trained", info.get("rounds_trained")),
    ]
    if info.get("stopped_early"):
        rows.append(("stopped early", info["stopped_early"]))
    return [[name, fmt.number(value)] for name, value in rows]


def _per_client(info: dict[str, Any]) -> list[str]:
    clients = info.get("per_client")
    if not isinstance(clients, dict) or not clients:
        return []
    dist = info.get("epsilon_distribution") or {}
    lines = ["", "Epsilon is per client (the table's is the largest); over clients: " + ", ".join(
        f"{k} {fmt.number(dist.get(k))}" for k in ("min", "median", "mean", "max")), ""]
    rows = [[pid, *(fmt.number(c.get(k)) for k in
                    ("sample_rate", "noise_multiplier", "steps", "epsilon"))]
            for pid, c in list(clients.items())[:MAX_CLIENT_ROWS]]
    lines += fmt.table(["client", "sample rate", "noise multiplier", "steps", "epsilon"], rows)
    if len(clients) > MAX_CLIENT_ROWS:
        lines.append(f"(first {MAX_CLIENT_ROWS} of {len(clients)} clients; all in summary.json)")
    declines = info.get("declines") or []
    if declines:
        who = sorted({str(d.get("partition_id")) for d in declines})
        lines += ["", f"Declined training {len(declines)} times (budget spent): clients "
                  + ", ".join(who) + "."]
    return lines


def _per_round(run: RunRecord) -> list[str]:
    """Epsilon after each round (max over clients for record-level DP), from metrics.jsonl."""
    values = []
    for record in run.rounds:
        info = record.get("privacy")
        if isinstance(info, dict):
            eps = info.get("epsilon_max", info.get("epsilon"))
            values.append(f"{record['round']}: {fmt.number(eps)}")
    return ["", "Epsilon after each round: " + ", ".join(values)] if values else []


def _exposed(info: dict[str, Any], secagg: bool | None) -> list[str]:
    items = list(info.get("not_protected") or [])
    if not items:
        items = ["the server sees every client update in the clear" if not secagg
                 else "the sum of the updates is not noised"]
    state = {True: "on", False: "off", None: "unknown (no config.toml)"}[secagg]
    return ["", f"Secure aggregation: {state}.", "", "**Not protected:**", "",
            *(f"- {fmt.cell(str(item))}" for item in items)]


def section(run: RunRecord) -> list[str]:
    """The ``## Privacy`` section."""
    info = run.summary.get("privacy")
    lines = ["## Privacy", ""]
    if not isinstance(info, dict):
        return lines + ["Privacy settings were not recorded in summary.json."]
    secagg = _secagg(run)
    if info.get("mode", "none") == "none":  # the overview's plain words, then the list
        return overview.privacy(run) + _exposed(info, secagg)[3:]
    lines += fmt.table(["item", "value"], _facts(info))
    lines += _per_round(run)
    lines += _per_client(info)
    if info.get("mode") == "user":
        lines += ["", USER_SAMPLING_NOTE]
    lines += [f"- warning: {fmt.cell(w)}" for w in info.get("warnings") or []]
    return lines + _exposed(info, secagg)
