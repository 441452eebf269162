"""Bad input: exit 2, one message naming the key or file, no traceback, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BAD_OVERRIDES = [
    (["--set", "run.sed=1"], "run.sed", "did you mean 'seed'"),
    (["--set", "runn.seed=1"], "runn", "did you mean 'run'"),
    (["--set", "run.seed=abc"], "run.seed", "expected an integer"),
    (["--set", "run.rounds=0"], "run.rounds", "out of range"),
    (["--set", "run.backend=rai"], "run.backend", "did you mean 'ray'"),
    (["--set", "client.lr=-0.1"], "client.lr", "allowed: > 0"),
    (["--set", "seed=1"], "seed=1", "section.key=value"),
    (["--set", "data.dataset=cifar"], "data.dataset", "allowed: digits"),
    (["--set", "strategy.name=fedavgg"], "strategy.name", "fedavgm"),
    (["--set", "task.name=regress"], "task.name", "classify"),
    (["--set", "task.model=resnet"], "task.model", "cnn"),
    (["--set", "data.partitioner=natural"], "data.partitioner", "natural"),
    (["--set", "data.num_clients=5000"], "data.num_clients", ""),
    (["--set", "strategy.clients_per_round=11"], "strategy.clients_per_round", "data.num_clients"),
    (
        ["--set", "strategy.name=fedsgd", "--set", "client.local_steps=5"],
        "client.local_steps",
        "fedsgd",
    ),
    (["--set", "run.device=cuda"], "run.device", "no GPU"),
    (["--set", "task.loss=triplet"], "task.loss", "cross_entropy"),
    (["--set", "data.dataset=kjv", "--set", "data.partitioner=iid"], "data.dataset", "text corpus"),
    (["--set", "task.model=gpt2"], "task.model", "allowed: cnn"),
    (["--set", "task.name=nextword"], "data.dataset", "needs a text corpus"),
    (
        ["--set", "data.classes_per_client=11", "--set", "data.partitioner=pathological"],
        "data.classes_per_client",
        "",
    ),
]

BAD_FILES = [
    ("[run\nseed = 1\n", "invalid TOML"),
    ("[run]\nseed = 1\nseed = 2\n", "invalid TOML"),
    ("[run]\nrounds = '3'\n", "run.rounds"),
    ("[clients]\nlr = 0.1\n", "did you mean 'client'"),
    ("run = 3\n", "expected a table"),
]


def _no_run_dirs(runs_dir: Path) -> bool:
    return not any(runs_dir.iterdir())


@pytest.mark.parametrize(("args", "key", "hint"), BAD_OVERRIDES)
def test_bad_override(cli, runs_dir: Path, args: list[str], key: str, hint: str) -> None:
    code, out, err = cli("run", "--runs-dir", str(runs_dir), *args)
    assert code == 2
    assert key in err and hint in err
    assert "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1
    assert _no_run_dirs(runs_dir)


@pytest.mark.parametrize(("text", "hint"), BAD_FILES)
def test_bad_file(cli, runs_dir: Path, tmp_path: Path, text: str, hint: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, out, err = cli("run", str(path), "--runs-dir", str(runs_dir))
    assert code == 2 and hint in err and "Traceback" not in err + out
    assert _no_run_dirs(runs_dir)


def test_missing_file_names_the_file(cli, runs_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    code, _, err = cli("run", str(missing), "--runs-dir", str(runs_dir))
    assert code == 2 and str(missing) in err and "not found" in err


def test_unwritable_runs_dir(cli, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = cli("run", "--runs-dir", str(blocker / "runs"))
    assert code == 2 and "run.runs_dir" in err


def test_report_of_missing_dir(cli, tmp_path: Path) -> None:
    code, _, err = cli("report", str(tmp_path / "absent"))
    assert code == 2 and "absent" in err


def test_console_script_prints_no_traceback(runs_dir: Path) -> None:
    """The real executable, in a fresh process, on bad input."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fedsim.cli",
            "run",
            "--runs-dir",
            str(runs_dir),
            "--set",
            "client.batch_size=0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == "fedsim: error: client.batch_size: 0 is out of range; allowed: >= 1"
    )
    assert _no_run_dirs(runs_dir)
