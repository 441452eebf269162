"""Flower's deployment engine (scripts/flower_deployment.sh): a real SuperLink, one SuperNode
per client and `flwr run` reach the inline engine's weights; the script's helpers agree with
Flower's own readers of the files they write."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from fedsim.engine import deployment as dep
from fedsim.errors import ConfigError
from fedsim.quiet import QUIET_ENV
from tests.helpers import run_config, small_config

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "flower_deployment.sh"
# quickstart + tests.conftest.SMALL, three clients, no federated evaluation
TINY = ("data.num_clients=3", "strategy.federated_eval=false")


def _ls(*runs: dict) -> str:
    return json.dumps({"success": True, "runs": list(runs)})


def _script(runs_dir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the script on the SMALL config; SIGTERM (its trap stops every process) on timeout."""
    from tests.conftest import SMALL

    sets = [x for item in [*SMALL, f'run.runs_dir="{runs_dir}"'] for x in ("--set", item)]
    env = {**os.environ, **QUIET_ENV, "FEDSIM_NO_PROGRESS": "1", "FEDSIM_PYTHON": sys.executable}
    env.pop("FLWR_HOME", None)  # the script's own private one
    proc = subprocess.Popen(["bash", str(SCRIPT), *sets, *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        pytest.fail(f"deployment run took over {timeout} s:\n{out}\n{err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _no_flower_left(stderr: str) -> None:
    """No process still uses the SuperLink port the script reported."""
    port = re.search(r"SuperLink on 127\.0\.0\.1:(\d+)", stderr).group(1)
    left = subprocess.run(["pgrep", "-af", f"127.0.0.1:{port}"], capture_output=True, text=True)
    assert left.stdout == "", left.stdout


# ---- fast: the helpers ------------------------------------------------------------------------


def test_node_config_is_what_the_client_reads() -> None:
    from flwr.common.config import parse_config_args

    text = dep.node_config(2, 3)
    assert text == "partition-id=2 num-partitions=3"
    assert parse_config_args([text]) == {"partition-id": 2, "num-partitions": 3}


def test_connection_is_read_back_by_flower(tmp_path: Path, monkeypatch) -> None:
    from flwr.cli.flower_config import read_superlink_connection

    monkeypatch.setenv("FLWR_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text(
        '[superlink]\ndefault = "mine"\n\n[superlink.mine]\naddress = "example:1"\n')
    dep.write_connection(tmp_path, dep.CONNECTION, "127.0.0.1:19091")
    conn = read_superlink_connection(dep.CONNECTION)
    assert (conn.address, conn.insecure) == ("127.0.0.1:19091", True)
    assert read_superlink_connection(None).address == "example:1"  # the user's default kept


def test_connection_becomes_default_in_an_empty_home() -> None:
    merged = dep.with_connection({}, "x", "127.0.0.1:1")
    assert merged == {"superlink": {"default": "x", "x": {"address": "127.0.0.1:1",
                                                          "insecure": True}}}


def test_run_config_file_reaches_the_apps_unchanged(runs_dir: Path, tmp_path: Path) -> None:
    from flwr.common.config import parse_config_args

    from fedsim.config import config_from_toml

    out = tmp_path / "run-config.toml"
    count, run_dir, ports = dep.prepare_run(None, [*TINY, f'run.runs_dir="{runs_dir}"'], None,
                                            False, out)
    assert count == 3 and run_dir.parent == runs_dir and not any(run_dir.iterdir())
    assert len(set(ports)) == 4  # the SuperLink's and one per SuperNode
    run_config = parse_config_args([str(out)])  # as `flwr run -c FILE` reads it
    assert set(run_config) == {"config-toml", "run-dir"} and run_config["run-dir"] == str(run_dir)
    cfg = config_from_toml(run_config["config-toml"])
    assert (cfg.run.backend, cfg.data.num_clients, cfg.run.runs_dir) == ("flower", 3,
                                                                          str(runs_dir))


def test_relative_runs_dir_is_made_absolute(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "rc.toml"
    _, run_dir, _ = dep.prepare_run(None, ['run.runs_dir="rel"'], None, False, out)
    assert run_dir.is_absolute() and run_dir.parent == tmp_path / "rel"


def test_supernode_mismatch_refused_before_any_write(runs_dir: Path, tmp_path: Path,
                                                     capsys) -> None:
    out = tmp_path / "rc.toml"
    code = dep.main(["prepare", "--set", f'run.runs_dir="{runs_dir}"', "--supernodes", "4",
                     "--set", "data.num_clients=3", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "data.num_clients" in err and "--supernodes 3" in err
    assert not out.exists() and not any(runs_dir.iterdir())


def test_taken_port_is_refused_before_any_write(runs_dir: Path, tmp_path: Path,
                                                capsys) -> None:
    out = tmp_path / "rc.toml"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        code = dep.main(["prepare", "--set", f'run.runs_dir="{runs_dir}"', "--set",
                         "data.num_clients=2", "--port", str(port - 1), "--out", str(out)])
    assert code == 2 and "is taken" in capsys.readouterr().err
    assert not out.exists() and not any(runs_dir.iterdir())


def test_free_ports() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        if taken > 65500:
            pytest.skip("the system picked a port too close to 65535")
        with pytest.raises(ConfigError, match=r"--port: 127\.0\.0\.1:\d+ is taken"):
            dep.free_ports(2, taken)
    with pytest.raises(ConfigError, match="--port: 80 is out of range"):
        dep.free_ports(2, 80)
    ports = dep.free_ports(4)
    assert len(set(ports)) == 4


def test_online_nodes_counts_only_online() -> None:
    nodes = [{"status": "online"}, {"status": "offline"}, {"status": "online"},
             {"status": "registered"}]
    assert dep.online_nodes(json.dumps({"success": True, "nodes": nodes})) == 2
    assert dep.online_nodes("Error: cannot reach the SuperLink") == 0


def test_outcome_reads_the_latest_run() -> None:
    old = {"run-id": "1", "status": "finished:completed", "pending-at": "2026-01-01 10:00:00Z",
           "elapsed": 3.0}
    new = {"run-id": "2", "status": "finished:failed", "pending-at": "2026-01-01 11:00:00Z",
           "elapsed": 4.25, "status-details": "ServerApp raised"}
    assert dep.run_outcome(_ls(old)) == (True, "flwr run 1: finished:completed after 3.0 s")
    assert dep.run_outcome(_ls(new, old)) == (
        False, "flwr run 2: finished:failed after 4.2 s (ServerApp raised)")
    assert dep.run_outcome(_ls())[0] is False
    assert dep.run_outcome("")[0] is False  # flwr ls itself failed


def test_outcome_exit_codes(monkeypatch, capsys) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(_ls({"run-id": "7", "status": "running"})))
    assert dep.main(["outcome"]) == 1
    assert "flwr run 7: running" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--bogus"], "unknown option --bogus"),
    (["--port", "abc"], "--port: 'abc'"),
    (["--timeout", "0"], "--timeout: '0'"),
    (["--set"], "--set needs a value"),
])
def test_script_bad_arguments(args: list[str], message: str) -> None:
    proc = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env={**os.environ, "FEDSIM_PYTHON": sys.executable})
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_script_bad_config_writes_nothing(runs_dir: Path) -> None:
    proc = _script(runs_dir, "--set", "run.rounds=0", timeout=120)
    assert proc.returncode == 2 and "run.rounds" in proc.stderr
    assert not any(runs_dir.iterdir())


# ---- long: a real SuperLink and SuperNodes ----------------------------------------------------


@pytest.mark.long
def test_deployment_engine_matches_inline(runs_dir: Path) -> None:
    """3 SuperNodes x 2 rounds: the inline engine's weights, to summation order (1e-5)."""
    _, _, w_inline = run_config(small_config(runs_dir / "inline", *TINY))
    proc = _script(runs_dir / "deploy", *(x for item in TINY for x in ("--set", item)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["backend"] == "flower" and summary["num_clients"] == 3
    assert "finished:completed" in (run_dir / "deployment" / "outcome.txt").read_text()
    w_dep = load_file(str(run_dir / "weights.safetensors"))
    assert w_dep.keys() == w_inline.keys()
    assert max(float((w_dep[k] - w_inline[k]).abs().max()) for k in w_dep) < 1e-5
    _no_flower_left(proc.stderr)


@pytest.mark.long
def test_deployment_failed_run_exits_nonzero(runs_dir: Path) -> None:
    """`flwr run` exits 0 for a failed run; the script reads `flwr ls` and exits 1. The
    failure: 2 SuperNodes for 3 clients, which the ServerApp refuses."""
    proc = _script(runs_dir, "--set", "data.num_clients=3", "--supernodes", "2",
                   "--allow-mismatch")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "finished:failed" in proc.stderr
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "data.num_clients" in manifest["error"]
    _no_flower_left(proc.stderr)
