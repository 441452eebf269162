"""run.ray_address: the `ray` backend on a multi-node Ray cluster (scripts/ray_cluster.py).

Fast: the key's validation (exit 2, nothing written), the private instance by default
(ray.init(address="local")), joining without num_cpus, the cluster script's command lines.
Long: a local head + 2 worker nodes; the run's weights equal the inline backend's, bitwise,
and the actors ran on both worker nodes.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fedsim.config import load_config
from fedsim.engine import ray_executor
from fedsim.engine.ray_address import (
    check_ray_address,
    init_kwargs,
    parse_host_port,
    probe_cluster,
    resolve_ray_address,
)
from fedsim.errors import ConfigError, IncompatibleOptionsError
from tests.helpers import load_script, run_config, small_config

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ray_cluster.py"


def _script():
    return load_script(SCRIPT, "fedsim_ray_cluster")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("127.0.0.2:6379", ("127.0.0.2", 6379)), ("head.local:1", ("head.local", 1)),
     ("[::1]:6379", ("::1", 6379)), ("nonsense", None), ("h:0", None), ("h:65536", None),
     (":6379", None), ("ray://h:10001", None), ("h:port", None), ("a b:1", None)],
)
def test_parse_host_port(text: str, parsed: tuple[str, int] | None) -> None:
    assert parse_host_port(text) == parsed


def test_a_non_string_address_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, ["run.ray_address=5"])
    assert err.value.key == "run.ray_address" and "expected a string" in str(err.value)


def test_malformed_or_misplaced_addresses_are_refused() -> None:
    with pytest.raises(ConfigError, match="is not HOST:PORT") as err:
        check_ray_address(load_config(None, ["run.backend=ray", 'run.ray_address="x"']))
    assert err.value.key == "run.ray_address"
    with pytest.raises(IncompatibleOptionsError, match="run.backend = 'ray' only"):
        check_ray_address(load_config(None, ['run.ray_address="127.0.0.2:6379"']))
    for ok in ("", "env", "127.0.0.2:6379"):
        check_ray_address(load_config(None, ["run.backend=ray", f'run.ray_address="{ok}"']))


def test_env_takes_ray_address_and_nothing_else_reads_it() -> None:
    environ = {"RAY_ADDRESS": "127.0.0.2:7000"}
    assert resolve_ray_address("env", environ) == "127.0.0.2:7000"
    assert resolve_ray_address("", environ) == ""  # the default never joins RAY_ADDRESS
    assert resolve_ray_address("10.0.0.1:1", environ) == "10.0.0.1:1"
    with pytest.raises(ConfigError, match="RAY_ADDRESS, which is ''"):
        resolve_ray_address("env", {})


def test_init_kwargs_private_instance_or_join_without_cpus() -> None:
    local = init_kwargs(3, "")
    assert local["address"] == "local" and local["num_cpus"] == 3
    joined = init_kwargs(3, "127.0.0.2:6379")
    assert joined["address"] == "127.0.0.2:6379"
    assert "num_cpus" not in joined and "include_dashboard" not in joined


def _fake_ray(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """ray.init recorded instead of run; the module state restored after the test."""
    import ray

    calls: list[dict] = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: calls.append(kw))
    monkeypatch.setattr(ray_executor, "_STARTED", None)
    monkeypatch.setattr(ray_executor, "_POOL", None)
    return calls


def test_default_starts_a_private_local_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_ray(monkeypatch)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.2:6379")  # a stray cluster: never joined
    ray_executor.start_ray(2)
    assert calls == [init_kwargs(2, "")] and calls[0]["address"] == "local"
    assert ray_executor._STARTED == ("local", 2)


def test_joining_probes_then_passes_no_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_ray(monkeypatch)
    with socket.socket() as server:  # something listening stands in for a head node
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"127.0.0.1:{server.getsockname()[1]}"
        ray_executor.start_ray(2, address)
    assert calls == [init_kwargs(0, address)] and "num_cpus" not in calls[0]
    assert ray_executor._STARTED == (address, 0)


def test_probe_names_the_key_when_nothing_listens() -> None:
    with pytest.raises(ConfigError, match="no Ray cluster answers at") as err:
        probe_cluster(f"127.0.0.1:{_closed_port()}", timeout=2.0)
    assert err.value.key == "run.ray_address"


def test_cli_refuses_an_unreachable_cluster_with_nothing_written(cli, runs_dir: Path) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    code, out, err = cli("run", "--runs-dir", str(runs_dir), "--set", "run.backend=ray",
                         "--set", f'run.ray_address="{address}"', "--set", "run.rounds=1")
    assert code == 2 and out == ""
    assert "run.ray_address" in err and address in err and "Traceback" not in err
    assert list(runs_dir.iterdir()) == []


def test_cli_refuses_a_malformed_address(cli, runs_dir: Path) -> None:
    code, _, err = cli("run", "--runs-dir", str(runs_dir), "--set", "run.backend=ray",
                       "--set", "run.ray_address=nonsense")
    assert code == 2 and "run.ray_address: 'nonsense' is not HOST:PORT" in err
    assert list(runs_dir.iterdir()) == []


def test_cluster_script_command_lines(tmp_path: Path) -> None:
    script = _script()
    ports = iter(range(1000, 2000))
    head, *workers = script.node_commands(tmp_path, 6400, 2, 3, port_on=lambda ip: next(ports))
    assert "--head" in head and head[head.index("--node-ip-address") + 1] == "127.0.0.2"
    assert head[head.index("--num-cpus") + 1] == "0" and head[head.index("--port") + 1] == "6400"
    ips = [w[w.index("--node-ip-address") + 1] for w in workers]
    assert ips == ["127.0.0.3", "127.0.0.4"]
    for command in (head, *workers):
        assert "--block" in command and "--disable-usage-stats" in command
        assert command[command.index("--temp-dir") + 1].startswith(str(tmp_path))
    for worker in workers:
        assert worker[worker.index("--address") + 1] == "127.0.0.2:6400"
        assert worker[worker.index("--num-cpus") + 1] == "3"
    fixed = [c[c.index(flag) + 1] for c in (head, *workers) for flag in c
             if flag.endswith("-port") and flag != "--port"]
    assert len(fixed) == len(set(fixed)) == 5  # no Ray default port (10001, 8265, 52365)


def test_cluster_script_refuses_bad_arguments(tmp_path: Path, capsys) -> None:
    script = _script()
    assert script.main(["start", "--workers", "0"]) == 2
    assert "workers >= 1" in capsys.readouterr().err
    assert script.main(["stop", str(tmp_path)]) == 2  # no cluster.json: not ours
    assert "not a cluster this script started" in capsys.readouterr().err


def _start_cluster() -> tuple[Path, str]:
    out = subprocess.run([sys.executable, str(SCRIPT), "start", "--workers", "2"],
                         capture_output=True, text=True, timeout=300)
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) < 2:
        if lines:  # a half-started cluster: the script stopped it, its logs are kept
            subprocess.run([sys.executable, str(SCRIPT), "stop", lines[0]], timeout=120)
        pytest.fail(f"cluster did not start: {out.stderr[-3000:]}")
    return Path(lines[0]), lines[-1]


@pytest.mark.long
def test_two_worker_cluster_matches_inline_and_uses_both_nodes(runs_dir: Path) -> None:
    """~1 min on 2 cores: cluster start ~30 s, the cluster run ~10 s, stop ~5 s."""
    _, inline, inline_w = run_config(small_config(runs_dir))  # 4 clients, 2 rounds, mlp
    ray_executor.shutdown_pool()  # a private Ray of earlier tests: the driver joins instead
    root, address = _start_cluster()
    try:
        cfg = small_config(runs_dir, "run.backend=ray", f'run.ray_address="{address}"')
        _, joined, joined_w = run_config(cfg)
        nodes = ray_executor.pool_nodes()
        import ray

        driver_node = ray.get_runtime_context().get_node_id()
        ray_executor.shutdown_pool()
        probe_cluster(address)  # disconnecting left the cluster running
    finally:
        ray_executor.shutdown_pool()
        subprocess.run([sys.executable, str(SCRIPT), "stop", str(root)], timeout=120)
    assert joined["weights_sha256"] == inline["weights_sha256"]
    assert all((joined_w[k] == inline_w[k]).all() for k in inline_w)
    assert joined["final"] == inline["final"]
    assert len(nodes) == 2 and len(set(nodes)) == 2  # one actor per worker node
    assert driver_node not in nodes  # the head has no CPUs: no client ran there
    assert not root.exists()  # `stop` removed the cluster's temp dir
