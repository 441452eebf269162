"""Report sections for reproducing the run: manifest facts and the resolved config."""

from __future__ import annotations

import json
from typing import Any

from fedsim.report import fmt
from fedsim.report.load import RunRecord

_KNOWN = (
    "seed",
    "command",
    "git_commit",
    "python",
    "packages",
    "hardware",
    "started_at",
    "finished_at",
)


def _value(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return fmt.MISSING if value is None else str(value)


def _hardware(hardware: Any) -> str:
    if not isinstance(hardware, dict):
        return _value(hardware)
    return ", ".join(f"{key}: {_value(value)}" for key, value in hardware.items())


def reproducibility(run: RunRecord) -> list[str]:
    """Seed, command, commit, Python, hardware, start/end and package versions."""
    lines = ["## Reproducibility", ""]
    manifest = run.manifest
    if manifest is None:
        seed = _value(run.summary.get("seed"))
        return lines + [f"manifest.json not found; seed (from summary.json): {seed}."]
    rows = [
        ["seed", _value(manifest.get("seed"))],
        ["command", f"`{manifest['command']}`" if manifest.get("command") else fmt.MISSING],
        ["git commit", _value(manifest.get("git_commit"))],
        ["python", _value(manifest.get("python"))],
        ["hardware", _hardware(manifest.get("hardware"))],
        ["started at", _value(manifest.get("started_at"))],
        ["finished at", _value(manifest.get("finished_at"))],
    ]
    rows += [[key, _value(value)] for key, value in manifest.items() if key not in _KNOWN]
    lines += fmt.table(["item", "value"], rows)
    packages = manifest.get("packages")
    if isinstance(packages, dict) and packages:
        rows = [[name, _value(packages[name])] for name in sorted(packages)]
        lines += ["", "Package versions:", "", *fmt.table(["package", "version"], rows)]
    return lines


def config(run: RunRecord) -> list[str]:
    """config.toml verbatim in a collapsible fenced block; empty when it is missing."""
    if run.config_text is None:
        return []
    fence = "```"
    while fence in run.config_text:
        fence += "`"
    body = run.config_text.rstrip("\n")
    return [
        "## Config",
        "",
        "<details><summary>config.toml (resolved)</summary>",
        "",
        f"{fence}toml",
        body,
        fence,
        "",
        "</details>",
    ]
