"""Flower's deployment engine on loopback: the logic behind scripts/flower_deployment.sh.

The script starts a SuperLink and one SuperNode per client and calls `flwr run`; this module
does what is not process management: validate the config and create the run directory before
anything starts (bad input: exit 2), write the run config and the Flower connection, pick free
ports, count online SuperNodes, and read the run's outcome from `flwr ls`, since `flwr run`
exits 0 even when the run failed. Run as `python -m fedsim.engine.deployment COMMAND`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from fedsim.config import Config
from fedsim.errors import ConfigError, FedsimError

CONNECTION = "fedsim-deployment"  # the SuperLink connection's name in $FLWR_HOME/config.toml
COMPLETED = "finished:completed"  # `flwr ls` status of a run that ended without error


def node_config(partition_id: int, num_partitions: int) -> str:
    """A SuperNode's --node-config: the ClientApp reads its shard from these two keys."""
    return f"partition-id={partition_id} num-partitions={num_partitions}"


def with_connection(flower_config: dict[str, Any], name: str, address: str) -> dict[str, Any]:
    """`flower_config` (a parsed $FLWR_HOME/config.toml) plus an insecure SuperLink connection
    `name` at `address`; it becomes the default only where no default is set."""
    superlink = dict(flower_config.get("superlink", {}))
    superlink[name] = {"address": address, "insecure": True}
    superlink.setdefault("default", name)
    return {**flower_config, "superlink": superlink}


def write_connection(flwr_home: Path, name: str, address: str) -> Path:
    """Add the connection to $FLWR_HOME/config.toml, keeping whatever else it holds."""
    path = flwr_home / "config.toml"
    current = tomllib.loads(path.read_text()) if path.exists() else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(with_connection(current, name, address)))
    return path


def check_supernodes(supernodes: int, num_clients: int) -> None:
    """One SuperNode per client: the ServerApp refuses any other count (the run then fails)."""
    if supernodes != num_clients:
        raise ConfigError(
            "data.num_clients",
            f"{num_clients} clients configured but {supernodes} SuperNodes asked for; "
            f"allowed: --supernodes {num_clients} (or leave it out)",
        )


def run_config_toml(config_toml: str, run_dir: Path) -> str:
    """The `flwr run -c FILE` overrides: the resolved fedsim config and the run directory."""
    from fedsim.engine.app_config import CONFIG_KEY, RUN_DIR_KEY

    return tomli_w.dumps({CONFIG_KEY: config_toml, RUN_DIR_KEY: str(run_dir)})


def free_ports(count: int, base: int = 0) -> list[int]:
    """`count` free TCP ports on 127.0.0.1: base, base+1, ... (all must be free) or, with
    base 0, ports the system picks."""
    if base and not 1024 <= base <= 65535 - count:
        raise ConfigError("--port", f"{base} is out of range; allowed: 1024 to {65535 - count}")
    socks = [socket.socket() for _ in range(count)]
    try:
        for offset, sock in enumerate(socks):
            port = base + offset if base else 0
            try:
                sock.bind(("127.0.0.1", port))
            except OSError as err:
                raise ConfigError("--port", f"127.0.0.1:{port} is taken ({err.strerror}); "
                                  "pick another base port or leave --port out") from None
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def online_nodes(supernode_list_json: str) -> int:
    """How many SuperNodes `flwr supernode list --format json` reports online."""
    try:
        nodes = json.loads(supernode_list_json).get("nodes", [])
    except (json.JSONDecodeError, AttributeError):  # SuperLink not up yet: an error text
        return 0
    return sum(1 for node in nodes if node.get("status") == "online")


def latest_run(ls_json: str) -> dict[str, Any]:
    """The most recently submitted run in `flwr ls --format json` (the private SuperLink
    of the script holds only its own); a ValueError when there is none."""
    runs = json.loads(ls_json).get("runs", [])
    if not runs:
        raise ValueError("flwr ls lists no run: the run was never submitted")
    return max(runs, key=lambda run: (run.get("pending-at", ""), int(run.get("run-id", 0))))


def run_outcome(ls_json: str) -> tuple[bool, str]:
    """(completed?, one line naming the run, its status and its details) from `flwr ls`."""
    try:
        run = latest_run(ls_json)
    except (ValueError, json.JSONDecodeError) as err:
        return False, f"no run status: {err}"
    status = str(run.get("status", "unknown"))
    line = f"flwr run {run.get('run-id')}: {status} after {run.get('elapsed', 0):.1f} s"
    details = run.get("status-details", "N/A")
    return status == COMPLETED, line if details in ("", "N/A") else f"{line} ({details})"


def deployment_config(config: str | None, overrides: list[str]) -> Config:
    """The Config validated as `fedsim run` does, recorded as run.backend = "flower" (Flower's
    own runtime runs the apps) and with an absolute runs_dir (the apps run elsewhere)."""
    import dataclasses

    from fedsim.config import load_config
    from fedsim.validation import prepare_for_flower

    cfg = prepare_for_flower(load_config(config, overrides))
    runs_dir = str(Path(cfg.run.runs_dir).resolve())
    return dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, runs_dir=runs_dir))


def prepare_run(config: str | None, overrides: list[str], supernodes: int | None,
                allow_mismatch: bool, out: Path, base_port: int = 0) -> tuple[int, Path, list[int]]:
    """Validate config, SuperNode count and ports, then create the run directory and write the
    `flwr run -c` file; return (SuperNodes, run directory, [SuperLink port, SuperNode ports]).
    Bad input raises before anything is written."""
    from fedsim.config import config_to_toml
    from fedsim.tracking.disk import check_runs_dir
    from fedsim.tracking.run_dir import create_run_dir

    cfg = deployment_config(config, overrides)
    count = cfg.data.num_clients if supernodes is None else supernodes
    if not allow_mismatch:
        check_supernodes(count, cfg.data.num_clients)
    ports = free_ports(count + 1, base_port)
    check_runs_dir(cfg.run.runs_dir, cfg.run.min_free_mb)
    run_dir = create_run_dir(cfg.run.runs_dir, cfg.run.name)
    out.write_text(run_config_toml(config_to_toml(cfg), run_dir))
    return count, run_dir, ports


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fedsim.engine.deployment")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="validate, pick ports, create the run directory, "
                          "write the -c FILE; prints SuperNodes, run directory, ports")
    prep.add_argument("config", nargs="?")
    prep.add_argument("--set", dest="overrides", action="append", default=[])
    prep.add_argument("--supernodes", type=int)
    prep.add_argument("--allow-mismatch", action="store_true")
    prep.add_argument("--out", type=Path, required=True)
    prep.add_argument("--port", type=int, default=0)
    conn = sub.add_parser("connection", help="add the connection to $FLWR_HOME/config.toml")
    conn.add_argument("address")
    conn.add_argument("--name", default=CONNECTION)
    sub.add_parser("online", help="online SuperNodes in `flwr supernode list` JSON (stdin)")
    sub.add_parser("outcome", help="exit 0 iff the run in `flwr ls` JSON (stdin) completed")
    nodecfg = sub.add_parser("node-config", help="a SuperNode's --node-config")
    nodecfg.add_argument("partition_id", type=int)
    nodecfg.add_argument("num_partitions", type=int)
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "prepare":
        count, run_dir, ports = prepare_run(args.config, args.overrides, args.supernodes,
                                            args.allow_mismatch, args.out, args.port)
        print(f"{count}\n{run_dir}\n{' '.join(str(p) for p in ports)}")
    elif args.command == "connection":
        home = os.environ.get("FLWR_HOME") or str(Path.home() / ".flwr")  # as Flower reads it
        write_connection(Path(home), args.name, args.address)
    elif args.command == "online":
        print(online_nodes(sys.stdin.read() or "{}"))
    elif args.command == "node-config":
        print(node_config(args.partition_id, args.num_partitions))
    else:
        completed, line = run_outcome(sys.stdin.read())
        print(line)
        return 0 if completed else 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; bad input prints one line naming the key or flag and returns 2."""
    from fedsim.quiet import quiet_environment

    quiet_environment(FEDSIM_NO_PROGRESS="1")
    try:
        return _dispatch(_parser().parse_args(argv))
    except FedsimError as err:
        print(f"fedsim: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
