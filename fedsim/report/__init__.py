"""Build report.md and its PNG plots from what a run directory holds.

`fedsim report RUN_DIR` calls `write_report`; `fedsim run` calls it at the end of a run.
The report is a pure function of the run directory's files: rebuilding gives the same text.
"""

from __future__ import annotations

from pathlib import Path

from fedsim.report import (
    artifacts,
    attacks,
    clients,
    overview,
    plots,
    privacy,
    provenance,
    secagg,
    training,
)
from fedsim.report.load import RunRecord, load_run

__all__ = ["REPORT_NAME", "render", "write_report"]

REPORT_NAME = "report.md"


def _draw_figures(run: RunRecord) -> set[str]:
    """Write every figure the run's data supports; return the file names written."""
    drawn = set()
    if plots.plot_curves(run.rounds, run.run_dir / plots.CURVES):
        drawn.add(plots.CURVES)
    if plots.plot_metrics(run.rounds, run.run_dir / plots.METRICS):
        drawn.add(plots.METRICS)
    if run.partition is not None and plots.plot_partition(
        run.partition, run.run_dir / plots.PARTITION
    ):
        drawn.add(plots.PARTITION)
    return drawn


def render(run: RunRecord, figures: set[str]) -> str:
    """The report's markdown, linking only the figures named in `figures`."""
    sections = [
        overview.title(run),
        overview.summary(run),
        overview.warnings(run),
        training.curves(run, figures),
        clients.clients(run, figures),
        artifacts.section(run),
        training.failures(run),
        privacy.section(run),
        secagg.section(run),
        attacks.malicious(run),
        attacks.attack_outputs(run),
        training.round_table(run),
        provenance.reproducibility(run),
        provenance.config(run),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections if lines) + "\n"


def write_report(run_dir: Path) -> Path:
    """Write run_dir/report.md and its PNGs; return the report's path.

    Raises DataError naming the file when summary.json or metrics.jsonl is missing or
    unparsable. Missing optional files (partition.json, manifest.json, config.toml) only
    leave out their sections.
    """
    run = load_run(Path(run_dir))
    text = render(run, _draw_figures(run))
    path = run.run_dir / REPORT_NAME
    path.write_text(text, encoding="utf-8")
    return path
