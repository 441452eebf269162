"""Checkpoint and exact resume: a run SIGKILLed mid-way and resumed ends with the same
weights_sha256 as the same run left alone (inline and ray); broken checkpoints are clear
errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fedsim.tracking.checkpoint import Checkpoint, checkpoint_path, read_checkpoint
from tests.conftest import SMALL
from tests.helpers import run_config, small_config

# FedAdam (server-optimizer state), 2 of 4 clients sampled per round (sampling RNG), and one
# straggler that sleeps 0.3 s per round (no timeout) so that the run can be killed mid-way.
ROUNDS = 5
RESUMABLE = [
    *SMALL, f"run.rounds={ROUNDS}", "run.checkpoint_every=1", "strategy.name=fedadam",
    "strategy.clients_per_round=2", "faults.straggler_fraction=0.25",
    "faults.straggler_delay=0.3",
]
ENV = {**os.environ, "FEDSIM_NO_PROGRESS": "1"}


def _fedsim(*args: str) -> list[str]:
    return [sys.executable, "-m", "fedsim.cli", *args]


def _run_args(runs_dir: Path, backend: str) -> list[str]:
    sets = [a for s in [*RESUMABLE, f"run.backend={backend}"] for a in ("--set", s)]
    return _fedsim("run", "--runs-dir", str(runs_dir), *sets)


def _checkpoint_round(runs_dir: Path) -> int:
    for path in runs_dir.glob("*/checkpoint/checkpoint.safetensors"):
        try:
            return int(read_checkpoint(path.parent.parent).meta["round"])
        except Exception:  # noqa: BLE001 - not there yet
            return 0
    return 0


def _kill_after_round(runs_dir: Path, backend: str, round_no: int) -> Path:
    proc = subprocess.Popen(_run_args(runs_dir, backend), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while _checkpoint_round(runs_dir) < round_no and proc.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (run_dir,) = runs_dir.iterdir()
    return run_dir


def _sha(run_dir: Path) -> str:
    return json.loads((run_dir / "summary.json").read_text())["weights_sha256"]


@pytest.mark.parametrize("backend", ["inline", pytest.param("ray", marks=pytest.mark.long)])
def test_sigkill_then_resume_gives_the_same_weights(tmp_path: Path, backend: str) -> None:
    killed = _kill_after_round(tmp_path / "killed", backend, 2)
    assert not (killed / "summary.json").exists(), "the run ended before the kill"
    resumed_from = int(read_checkpoint(killed).meta["round"])
    assert 2 <= resumed_from < ROUNDS
    done = subprocess.run(_fedsim("resume", str(killed)), env=ENV, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(killed)

    (tmp_path / "whole").mkdir()  # the uninterrupted reference, in this process
    whole = run_config(small_config(tmp_path / "whole", *RESUMABLE, f"run.backend={backend}"))[0]
    assert _sha(killed) == _sha(whole)

    rows = [json.loads(x) for x in (killed / "metrics.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rows] == list(range(ROUNDS + 1))
    same = [json.loads(x) for x in (whole / "metrics.jsonl").read_text().splitlines()]
    assert [r["dev"] for r in rows] == [r["dev"] for r in same]
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert [r["from_round"] for r in manifest["resumed"]] == [resumed_from]


def _finished_run(cli, runs_dir: Path) -> Path:
    sets = [a for s in [*SMALL, "run.checkpoint_every=1"] for a in ("--set", s)]
    code, out, err = cli("run", "--runs-dir", str(runs_dir), *sets)
    assert code == 0, err
    return Path(out.strip().splitlines()[-1])


def test_checkpoint_contents_and_resume_errors(cli, runs_dir: Path) -> None:
    run_dir = _finished_run(cli, runs_dir)
    checkpoint = read_checkpoint(run_dir)
    assert checkpoint.meta["round"] == 2
    assert sorted(checkpoint.meta["nodes"]) == [1000, 1001, 1002, 1003]
    assert {"rng/python", "rng/numpy", "rng/torch"} <= set(checkpoint.arrays)
    assert not list((run_dir / "checkpoint").glob("*.tmp"))  # written by rename

    code, _, err = cli("resume", str(run_dir))
    assert code == 2 and "already finished" in err

    (run_dir / "summary.json").unlink()
    path = checkpoint_path(run_dir)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    code, out, err = cli("resume", str(run_dir))
    assert code == 2 and "Traceback" not in out + err
    assert "truncated or corrupt checkpoint" in err and str(path) in err

    path.unlink()
    code, _, err = cli("resume", str(run_dir))
    assert code == 2 and "no checkpoint" in err
    code, _, err = cli("resume", str(runs_dir / "absent"))
    assert code == 2 and "not a run directory" in err


def test_a_checkpoint_round_trips_every_array(tmp_path: Path) -> None:
    from fedsim.tracking.checkpoint import write_checkpoint

    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([7], np.int64)}
    write_checkpoint(tmp_path, Checkpoint(arrays, {"round": 3, "x": [1.5, None]}))
    back = read_checkpoint(tmp_path)
    assert back.meta["round"] == 3 and back.meta["x"] == [1.5, None]
    assert all(np.array_equal(back.arrays[k], v) and back.arrays[k].dtype == v.dtype
               for k, v in arrays.items())


@pytest.mark.parametrize(
    ("sets", "key"),
    [(["run.checkpoint_every=1", "run.backend=flower"], "run.checkpoint_every")],
)
def test_checkpoints_refused_where_resume_cannot_be_exact(cli, runs_dir: Path, sets, key) -> None:
    args = [a for s in sets for a in ("--set", s)]
    code, _, err = cli("run", "--runs-dir", str(runs_dir), *args)
    assert code == 2 and key in err and not any(runs_dir.iterdir())


@pytest.mark.parametrize(
    "sets",
    [["strategy.name=fedavgm"], ["strategy.name=fedyogi", "strategy.clients_per_round=3"],
     ["strategy.name=krum"], ["strategy.name=ensemble"],
     ["faults.crash_fraction=0.25", "strategy.name=fedadam"]],
)
def test_resume_from_a_copied_checkpoint_matches(runs_dir: Path, monkeypatch, sets) -> None:
    """In-process and without a kill: copy the run directory right after checkpoint 2, let
    the run finish, resume the copy; both end with the same weights."""
    import shutil

    from fedsim.engine.resume import ResumePlan
    from fedsim.engine.run import resume

    original, copies = ResumePlan.save, []

    def save_and_copy(self, server_round, *args) -> None:  # noqa: ANN001
        original(self, server_round, *args)
        if server_round == 2:
            copies.append(shutil.copytree(self.run_dir, runs_dir.parent / "copy"))

    monkeypatch.setattr(ResumePlan, "save", save_and_copy)
    cfg = small_config(runs_dir, "run.rounds=4", "run.checkpoint_every=1", *sets)
    whole, summary, _ = run_config(cfg)
    monkeypatch.setattr(ResumePlan, "save", original)
    (copy,) = copies
    assert not (copy / "summary.json").exists()
    resumed_dir, resumed = resume(copy)
    assert resumed["weights_sha256"] == summary["weights_sha256"]
    assert resumed["failures"] == summary["failures"]
    assert resumed["bytes"] == summary["bytes"]
