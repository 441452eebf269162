"""The run directory contract (DESIGN.md): files, summary keys, metrics, TensorBoard, report."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from safetensors.torch import load_file

from fedsim.config import config_from_toml
from fedsim.tracking.manifest import code_digest
from fedsim.tracking.weights import weights_sha256
from tests.conftest import SMALL

SUMMARY_KEYS = {
    "task",
    "dataset",
    "strategy",
    "rounds",
    "seed",
    "final",
    "weights_sha256",
    "wall_seconds",
    "privacy",
    "bytes",
}


def _run(cli, runs_dir: Path, *extra: str) -> Path:
    args = [a for s in SMALL for a in ("--set", s)]
    code, out, err = cli("run", "--runs-dir", str(runs_dir), "--name", "rec", *args, *extra)
    assert code == 0, err
    run_dir = Path(out.strip().splitlines()[-1])  # the LAST stdout line is the run directory
    assert run_dir.parent == runs_dir and run_dir.name.startswith("rec-")
    return run_dir


def test_run_directory_contract(cli, runs_dir: Path) -> None:
    run_dir = _run(cli, runs_dir, "--set", "run.seed=3")
    for name in (
        "config.toml",
        "manifest.json",
        "metrics.jsonl",
        "summary.json",
        "weights.safetensors",
        "report.md",
        "partition.json",
    ):
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "tb").glob("events.out.tfevents.*"))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert SUMMARY_KEYS <= summary.keys()
    assert summary["seed"] == 3 and summary["rounds"] == 2
    assert set(summary["final"]) == {"dev", "test"}
    assert {"loss", "accuracy"} <= summary["final"]["dev"].keys()
    assert {"mode", "epsilon", "delta"} <= summary["privacy"].keys()
    assert summary["weights_sha256"] == weights_sha256(
        load_file(str(run_dir / "weights.safetensors"))
    )
    cfg = config_from_toml((run_dir / "config.toml").read_text())
    assert cfg.run.seed == 3 and cfg.data.num_clients == 4


def test_metrics_rounds_and_bytes_add_up(cli, runs_dir: Path) -> None:
    run_dir = _run(cli, runs_dir)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rows] == [0, 1, 2]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["bytes"]["sent"] == sum(r["bytes"]["sent"] for r in rows[1:]) > 0
    for row in rows[1:]:
        train = [c for c in row["clients"] if c["stage"] == "train"]
        assert sorted(c["partition_id"] for c in train) == [0, 1, 2, 3]
        assert {"loss", "num_examples", "seconds", "bytes_up", "bytes_down"} <= train[0].keys()
        assert row["failures"] == [] and row["train"]["loss"] > 0
    assert rows[-1]["dev"] == summary["final"]["dev"]


def test_manifest_records_seed_versions_hardware(cli, runs_dir: Path) -> None:
    manifest = json.loads((_run(cli, runs_dir) / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["seed"] == 0
    assert {"torch", "flwr", "ray"} <= manifest["packages"].keys()
    assert manifest["hardware"]["cpus"] >= 1 and manifest["python"].startswith("3.")
    assert manifest["started_at"] <= manifest["finished_at"]
    assert manifest["code_sha256"] == code_digest()  # the source that ran, git or not


def test_report_is_rebuilt(cli, runs_dir: Path) -> None:
    run_dir = _run(cli, runs_dir)
    (run_dir / "report.md").unlink()
    code, out, _ = cli("report", str(run_dir))
    assert code == 0 and Path(out.strip()) == run_dir / "report.md"
    assert "classify on digits with fedavg" in (run_dir / "report.md").read_text()


def test_list_names_everything(cli) -> None:
    code, out, _ = cli("list")
    assert code == 0
    for name in (
        "classify",
        "digits",
        "fashion-mnist",
        "mnist5k",
        "dirichlet",
        "fedsgd",
        "fedyogi",
        "ray",
        "flower",
        "client.lr",
    ):
        assert name in out


def test_config_toml_is_complete(cli, runs_dir: Path) -> None:
    raw = tomllib.loads((_run(cli, runs_dir) / "config.toml").read_text())
    assert set(raw) == {"run", "data", "task", "client", "strategy", "privacy", "secagg", "attack",
                        "faults"}


def test_manifest_command_hides_flower_run_tokens() -> None:
    """Under `flwr run` the ServerApp's argv carries its run token: never written to disk."""
    from fedsim.tracking.manifest import command_line

    argv = ["flwr-serverapp", "--serverappio-api-address", "127.0.0.1:9091", "--token", "s3cr3t",
            "--run-once", "--token=abc"]
    shown = command_line(argv)
    assert "s3cr3t" not in shown and "abc" not in shown
    assert shown == ("flwr-serverapp --serverappio-api-address 127.0.0.1:9091 --token *** "
                     "--run-once --token=***")
