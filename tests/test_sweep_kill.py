"""A sweep killed with SIGKILL mid-way finishes only its missing cells when run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SPEC = """
[sweep]
name = "killed"
seeds = [0, 1, 2]
set = ["run.rounds=1", "data.num_clients=3", "task.model=mlp", "client.local_steps=2",
       "strategy.federated_eval=false"]
"""
CELLS = 3
STARTUP_LIMIT = 180  # seconds: importing torch + flwr on a loaded 2-core machine


def _wait_for_first_summary(cells: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT
    while not list(cells.glob("*/*/summary.json")):
        assert proc.poll() is None, "the sweep ended before it was killed"
        assert time.monotonic() < deadline, "no cell finished in time"
        time.sleep(0.02)


def test_sigkill_then_rerun_runs_only_missing_cells(cli, tmp_path: Path) -> None:
    spec = tmp_path / "killed.toml"
    spec.write_text(SPEC)
    sweeps = tmp_path / "sweeps"
    argv = [sys.executable, "-m", "fedsim.cli", "sweep", str(spec), "--sweeps-dir", str(sweeps)]
    env = {**os.environ, "FEDSIM_NO_PROGRESS": "1"}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_first_summary(sweeps / "killed" / "cells", proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    cells = sweeps / "killed" / "cells"
    done = {p.parent.parent.name for p in cells.glob("*/*/summary.json")}
    assert 1 <= len(done) < CELLS and not (sweeps / "killed" / "results.csv").exists()

    code, _, err = cli("sweep", str(spec), "--sweeps-dir", str(sweeps))
    assert code == 0, err
    assert err.count(": done before") == len(done)
    assert err.count(": ran") == CELLS - len(done)
    for name in done:  # finished cells were not run again
        assert len(list((cells / name).glob("*/summary.json"))) == 1
    assert all(len(list(c.glob("*/summary.json"))) == 1 for c in cells.iterdir())
    assert len((sweeps / "killed" / "results.csv").read_text().splitlines()) == CELLS + 1
    manifest = json.loads((sweeps / "killed" / "manifest.json").read_text())
    assert [c["cells_run"] for c in manifest["invocations"]] == [CELLS - len(done)]
