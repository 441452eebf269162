"""The report's SecAgg+ section: the protocol's parameters and what its quantization costs.

Read from summary.json's ``secagg`` (fedsim.privacy.secagg); nothing when SecAgg+ was off.
"""

from __future__ import annotations

from fedsim.report import fmt
from fedsim.report.load import RunRecord

ROWS = (
    ("secret shares per client", "num_shares"),
    ("shares to reconstruct", "reconstruction_threshold"),
    ("clipping range c", "clipping_range"),
    ("quantization levels Q", "quantization_range"),
    ("mask modulus", "modulus_range"),
    ("max weight W", "max_weight"),
    ("quantization error bound (per parameter, per round)", "quantization_error_bound"),
)


def section(run: RunRecord) -> list[str]:
    """SecAgg+ parameters and the error bound, or nothing for a run without SecAgg+."""
    info = run.summary.get("secagg")
    if not isinstance(info, dict) or not info.get("enabled"):
        return []
    rows = [[name, fmt.number(info.get(key))] for name, key in ROWS]
    return [
        "## Secure aggregation (SecAgg+)", "",
        "Flower's SecAgg+ (legacy workflow): the server unmasks only the sum of the clients' "
        "quantized, masked models; clients that drop out after sharing their keys are "
        "recovered while at least the threshold of their neighbours answer.", "",
        *fmt.table(["parameter", "value"], rows), "",
        f"Bound: {info.get('bound_formula')} (m clients, n_i their example weights).",
    ]
