"""Task outputs listed in summary.json under "artifacts": figures, tables, samples.

Tasks write them at the end of a run (`write_artifacts`); the report only shows what the
run directory holds: a PNG as an image, a Markdown file inline, anything else as a link.
"""

from __future__ import annotations

from fedsim.report.load import RunRecord


def section(run: RunRecord) -> list[str]:
    """The "Task outputs" section, or nothing when the run listed none."""
    items = run.summary.get("artifacts") or []
    if not items:
        return []
    lines = ["## Task outputs"]
    for item in items:
        title, name = str(item.get("title", "")), str(item.get("file", ""))
        path = run.run_dir / name
        if not name or not path.is_file():
            lines += ["", f"- {title}: `{name}` is missing"]
        elif name.endswith(".png"):
            lines += ["", f"### {title}", "", f"![{title}]({name})"]
        elif name.endswith(".md"):
            lines += ["", f"### {title}", "", path.read_text(encoding="utf-8").strip()]
        else:
            lines += ["", f"- {title}: [`{name}`]({name})"]
    return lines
