"""report.md and its plots are rebuilt from a run directory's files, and only from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fedsim.errors import DataError
from fedsim.report import render, write_report
from fedsim.report.fmt import byte_size, number
from fedsim.report.load import load_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROUNDS = 3
HISTOGRAM = [[5, 0, 3], [1, 1, 1], [0, 9, 0], [2, 2, 6]]  # client totals 8, 3, 9, 10
CONFIG = '[run]\nseed = 0\nrounds = 3\n\n[data]\ndataset = "digits"\n'


def _clients(r: int) -> list[dict]:
    train = [
        {
            "node_id": 100 + c,
            "partition_id": c,
            "stage": "train",
            "num_examples": sum(row),
            "loss": 1.0 / r + 0.1 * c,
            "seconds": 0.01,
            "bytes_up": 400,
            "bytes_down": 400,
        }
        for c, row in enumerate(HISTOGRAM)
    ]
    evaluate = [
        {
            "node_id": 100 + c,
            "partition_id": c,
            "stage": "evaluate",
            "num_examples": 2,
            "loss": 0.5,
            "accuracy": acc,
        }
        for c, acc in enumerate([0.5, 0.7, 0.8, 0.9])
    ]
    return train + evaluate


def _round(r: int) -> dict:
    if r == 0:
        return {"round": 0, "wall_seconds": 0.1, "dev": {"loss": 2.3, "accuracy": 0.1}}
    failures = [{"node_id": 103, "partition_id": 3, "stage": "train", "reason": "timeout"}]
    return {
        "round": r,
        "wall_seconds": 0.1 + r,
        "round_seconds": 1.0,
        "train": {"loss": 1.0 / r},
        "dev": {"loss": 1.5 / r, "accuracy": 0.3 * r},
        "federated_eval": {"loss": 1.4 / r, "accuracy": 0.29 * r} if r > 1 else None,
        "clients": _clients(r),
        "failures": failures if r == 2 else [],
        "bytes": {"sent": 1600, "received": 1600},
    }


def make_run(run_dir: Path, privacy_mode: str = "none") -> Path:
    """A realistic small run directory: 4 clients, 3 classes, 3 rounds after round 0."""
    run_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "task": "classify",
        "dataset": "digits",
        "strategy": "fedavg",
        "backend": "inline",
        "rounds": ROUNDS,
        "seed": 0,
        "num_clients": 4,
        "final": {"dev": {"loss": 0.2, "accuracy": 0.95}, "test": {"loss": 0.21, "accuracy": 0.94}},
        "weights_sha256": "ab12cd34",
        "wall_seconds": 3.2,
        "privacy": {
            "mode": privacy_mode,
            "epsilon": 2.5 if privacy_mode != "none" else None,
            "delta": 1e-5 if privacy_mode != "none" else None,
        },
        "bytes": {"sent": 123456, "received": 4800},
        "failures": 1,
    }
    manifest = {
        "seed": 0,
        "git_commit": "deadbeef",
        "command": "fedsim run quickstart.toml",
        "python": "3.11.7",
        "packages": {"torch": "2.13.0", "flwr": "1.42.0"},
        "hardware": {"cpu": "x86_64", "cpus": 2, "memory_gb": 23.4, "gpu": None},
        "started_at": "2026-01-01T00:00:00Z",
        "finished_at": "2026-01-01T00:00:04Z",
    }
    partition = {"partitioner": "dirichlet", "class_names": ["0", "1", "2"], "histogram": HISTOGRAM}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    (run_dir / "partition.json").write_text(json.dumps(partition))
    (run_dir / "config.toml").write_text(CONFIG)
    lines = [json.dumps(_round(r)) for r in range(ROUNDS + 1)]
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return run_dir


def _section(text: str, heading: str) -> str:
    """The text under a '## heading' up to the next '## '."""
    return text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def _table_rows(section: str) -> list[list[str]]:
    """Data rows of the first markdown table in a section, as stripped cells."""
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[c.strip() for c in row.strip("|").split("|")] for row in rows[2:]]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One complete run directory with its report built once (drawing plots is the slow part)."""
    run_dir = make_run(tmp_path_factory.mktemp("report") / "run")
    write_report(run_dir)
    return run_dir


@pytest.fixture
def report(full_run: Path) -> str:
    return (full_run / "report.md").read_text()


def test_summary_has_final_metrics(report: str) -> None:
    summary = _section(report, "Summary")
    assert report.startswith("# fedsim run: classify on digits with fedavg\n")
    assert "| dev | 0.2000 | 0.9500 |" in summary
    assert "| test | 0.2100 | 0.9400 |" in summary
    assert "| bytes sent | 123,456 B (120.6 KiB) |" in summary
    assert "| weights_sha256 | `ab12cd34` |" in summary


def test_round_table_has_one_row_per_round(report: str) -> None:
    rows = _table_rows(_section(report, "Per-round table"))
    assert [row[0] for row in rows] == [str(r) for r in range(ROUNDS + 1)]
    header = next(line for line in report.splitlines() if line.startswith("| round | train"))
    assert "dev loss" in header and "dev accuracy" in header and "federated eval accuracy" in header
    assert rows[0][1] == "–"  # round 0 is the initial model: no train loss
    assert rows[2][1:3] == ["0.5000", "0.7500"]  # round 2: train 1/2, dev 1.5/2


def test_pngs_are_written_and_valid(full_run: Path, report: str) -> None:
    for name in ("curves.png", "metrics.png", "partition.png"):
        data = (full_run / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000
        assert f"]({name})" in report


def test_clients_section_lists_client_totals_and_spread(report: str) -> None:
    clients = _section(report, "Clients")
    rows = _table_rows(clients.split("### Spread")[0])
    assert [(row[0], row[1]) for row in rows] == [("0", "8"), ("1", "3"), ("2", "9"), ("3", "10")]
    assert rows[2][2:] == ["1/3", "`1` (100%)"]
    assert "30 examples in total" in clients
    assert "| evaluate | accuracy | 4 | 0.5000 | 0.7500 | 0.9000 |" in clients


def test_failures_and_privacy_sections(report: str) -> None:
    assert "| 2 | 1 | train: 1 | timeout |" in _section(report, "Failures")
    assert "the server sees every client update in the clear" in _section(report, "Privacy")


def test_dp_run_lists_privacy_fields(tmp_path: Path) -> None:
    run = load_run(make_run(tmp_path / "run", privacy_mode="record"))
    privacy = _section(render(run, figures=set()), "Privacy")  # text only: skip drawing
    assert "| mode | record |" in privacy and "| epsilon | 2.5000 |" in privacy
    assert "Secure aggregation: off." in privacy


def test_reproducibility_and_config(report: str) -> None:
    repro = _section(report, "Reproducibility")
    assert "`fedsim run quickstart.toml`" in repro and "| torch | 2.13.0 |" in repro
    assert "deadbeef" in repro and "memory_gb: 23.4" in repro
    assert "```toml\n" + CONFIG + "```" in report


def test_optional_files_and_keys_may_be_missing(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run")
    for name in ("partition.json", "manifest.json", "config.toml"):
        (run_dir / name).unlink()
    rounds = [{"round": 0, "dev": {"loss": 2.0}}, {"round": 1, "dev": {"loss": 1.0}}]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rounds))
    report = write_report(run_dir).read_text()
    assert "## Clients" not in report and "## Config" not in report
    assert "manifest.json not found" in report
    assert (run_dir / "curves.png").exists() and not (run_dir / "metrics.png").exists()
    assert len(_table_rows(_section(report, "Per-round table"))) == 2


def test_corrupt_optional_file_becomes_a_warning(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run")
    (run_dir / "partition.json").write_text("{not json")
    report = write_report(run_dir).read_text()
    assert "partition.json was not used" in _section(report, "Warnings")
    assert "### Partition" not in report


@pytest.mark.parametrize("name", ["metrics.jsonl", "summary.json"])
@pytest.mark.parametrize("content", [None, "{truncated", "[1, 2]"])
def test_bad_required_file_raises_data_error(
    tmp_path: Path, name: str, content: str | None
) -> None:
    run_dir = make_run(tmp_path / "run")
    if content is None:
        (run_dir / name).unlink()
    else:
        (run_dir / name).write_text(content)
    with pytest.raises(DataError, match=name):
        write_report(run_dir)
    assert not (run_dir / "report.md").exists()


def test_rebuild_is_identical(full_run: Path, report: str) -> None:
    assert write_report(full_run).read_text() == report


def test_number_formatting() -> None:
    assert [number(0.95), number(None), number(3), number(1e-5)] == [
        "0.9500",
        "–",
        "3",
        "1.000e-05",
    ]
    assert byte_size(512) == "512 B" and byte_size(2048) == "2,048 B (2.0 KiB)"


def test_secure_aggregation_without_dp_is_not_called_unprotected(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run")
    (run_dir / "config.toml").write_text("[secagg]\nenabled = true\n")
    privacy = _section(render(load_run(run_dir), figures=set()), "Privacy")
    assert "No differential privacy. Secure aggregation (SecAgg+) is on" in privacy


def test_partition_series_stacks_classes_or_totals_beyond_the_limit(tmp_path: Path) -> None:
    """Per class when few; only client totals for thousands of classes (emoji: 3,963)."""
    from fedsim.report.partition import Partition
    from fedsim.report.plots import _MAX_STACKED_CLASSES, partition_series, plot_partition

    few = Partition("iid", ("a", "b"), ((1, 2), (3, 4), (0, 5)))
    assert partition_series(few) == [("a", [1, 3, 0]), ("b", [2, 4, 5])]
    n = _MAX_STACKED_CLASSES + 1
    names = tuple(f"c{i}" for i in range(n))
    many = Partition("iid", names, (tuple([1] * n), tuple([2] * n)))
    assert partition_series(many) == [("all classes", [n, 2 * n])]
    assert plot_partition(many, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_population_report_caps_bars_and_rows(tmp_path: Path) -> None:
    """100k clients: the plot draws the first _MAX_BAR_CLIENTS, the table MAX_CLIENT_ROWS."""
    from fedsim.report.clients import MAX_CLIENT_ROWS
    from fedsim.report.partition import Partition, client_size_rows
    from fedsim.report.plots import _MAX_BAR_CLIENTS, plot_partition

    clients = _MAX_BAR_CLIENTS + 37
    big = Partition("iid", ("a", "b"), tuple((i % 3, 1) for i in range(clients)))
    rows = client_size_rows(big, MAX_CLIENT_ROWS)
    assert [r[0] for r in rows] == [str(i) for i in range(MAX_CLIENT_ROWS)]
    assert rows[4][1] == "2" and rows[3][1] == "1"  # (4 % 3) + 1 and (3 % 3) + 1
    assert len(client_size_rows(big)) == clients
    figure = tmp_path / "p.png"
    assert plot_partition(big, figure) and figure.stat().st_size > 0
