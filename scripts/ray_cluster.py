"""Start or stop a multi-node Ray cluster on this machine, for `run.ray_address`.

A head node on 127.0.0.2 (no CPUs by default: it only coordinates) and N worker nodes on
127.0.0.3, 127.0.0.4, ..., each `ray start --block` in its own session, with its own
loopback address (Ray rewrites 127.0.0.1 to the external interface) and its own folder under
a private temp dir (no other `ray.init()` on the machine finds or joins this cluster).
`stop` ends exactly those sessions; it never calls `ray stop`, which would stop every Ray
on the machine, other people's included.

    python scripts/ray_cluster.py start [--dir DIR] [--workers 2] [--worker-cpus 1]
    python scripts/ray_cluster.py stop DIR [--keep]

`start` returns once every worker node has joined and prints the head's HOST:PORT (the value
for `run.ray_address`) as the last line of stdout; DIR/cluster.json keeps it with the
process ids for `stop`. DIR defaults to a new short folder under /tmp (Ray's socket paths
must stay under 108 characters).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HEAD_IP = "127.0.0.2"
RAY = [sys.executable, "-m", "ray.scripts.scripts"]  # the `ray` CLI of this interpreter
READY_TIMEOUT_S = 120.0
STOP_GRACE_S = 20.0
REPO = Path(__file__).resolve().parent.parent
QUIET = {  # fedsim.quiet.QUIET_ENV's Ray/Flower switches, for the nodes' worker processes
    "FLWR_TELEMETRY_ENABLED": "0",
    "FLWR_DISABLE_UPDATE_CHECK": "1",
    "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0",
    "UV_OFFLINE": "1",
}


def worker_ip(index: int) -> str:
    """Loopback address of worker node `index` (0-based): 127.0.0.3, 127.0.0.4, ..."""
    if not 0 <= index < 250:
        raise ValueError(f"worker index {index} is out of range 0..249")
    return f"127.0.0.{3 + index}"


def free_port(host: str) -> int:
    """A TCP port free on `host` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def node_commands(
    root: Path, port: int, workers: int, worker_cpus: int, head_cpus: int = 0,
    port_on: Callable[[str], int] = free_port,
) -> list[list[str]]:
    """`ray start --block` command lines: the head's first, then each worker node's.

    Every port Ray would otherwise take at a fixed default (client server, dashboard, agent)
    is a free one (`port_on(ip)`), so the cluster does not collide with another Ray here.
    """
    if workers < 1 or worker_cpus < 1 or head_cpus < 0:
        raise ValueError("need workers >= 1, worker_cpus >= 1, head_cpus >= 0")
    head = [*RAY, "start", "--head", "--block", "--node-ip-address", HEAD_IP,
            "--port", str(port), "--temp-dir", str(root / "head"),
            "--num-cpus", str(head_cpus), "--include-dashboard", "false",
            "--dashboard-port", str(port_on(HEAD_IP)),
            "--ray-client-server-port", str(port_on(HEAD_IP)),
            "--dashboard-agent-listen-port", str(port_on(HEAD_IP)), "--disable-usage-stats"]
    nodes = [head]
    for index in range(workers):
        ip = worker_ip(index)
        nodes.append([*RAY, "start", "--block", "--address", f"{HEAD_IP}:{port}",
                      "--node-ip-address", ip, "--temp-dir", str(root / f"worker{index}"),
                      "--num-cpus", str(worker_cpus),
                      "--dashboard-agent-listen-port", str(port_on(ip)),
                      "--disable-usage-stats"])
    return nodes


def node_environment() -> dict[str, str]:
    """The nodes' environment: quiet Ray/Flower, and the repository importable by actors."""
    env = {**os.environ, **QUIET}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _spawn(command: list[str], log: Path) -> int:
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=node_environment(),
                                start_new_session=True)  # its own group: `stop` ends it whole
    return proc.pid


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _wait_for_head(pid: int, port: int, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not _alive(pid):
            raise RuntimeError(f"the head node exited; its log:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection((HEAD_IP, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the head node did not listen on {HEAD_IP}:{port} in time")


def _wait_for_workers(address: str, workers: int, worker_cpus: int, head_cpus: int) -> None:
    """Block until the cluster has every node alive and all their CPUs (Ray's public API)."""
    os.environ.update(QUIET)
    import ray

    ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        want = workers * worker_cpus + head_cpus
        while time.monotonic() < deadline:
            alive = [n for n in ray.nodes() if n["Alive"]]
            if len(alive) == workers + 1 and ray.cluster_resources().get("CPU", 0) >= want:
                return
            time.sleep(0.5)
        raise RuntimeError(f"only {len(alive)} of {workers + 1} nodes joined in time")
    finally:
        ray.shutdown()  # a driver's disconnect: the cluster stays


def start(root: Path, workers: int, worker_cpus: int, head_cpus: int) -> str:
    """Start the cluster under `root`; return its address once every node has joined."""
    port = free_port(HEAD_IP)
    address = f"{HEAD_IP}:{port}"
    commands = node_commands(root, port, workers, worker_cpus, head_cpus)
    record = {"address": address, "pids": [], "dir": str(root)}
    try:
        for index, command in enumerate(commands):
            name = "head" if index == 0 else f"worker{index - 1}"
            record["pids"].append(_spawn(command, root / f"{name}.log"))
            (root / "cluster.json").write_text(json.dumps(record, indent=1))
            if index == 0:
                _wait_for_head(record["pids"][0], port, root / "head.log")
        _wait_for_workers(address, workers, worker_cpus, head_cpus)
    except BaseException:
        stop(root, keep=True)
        raise
    return address


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def _ours(pid: int, root: Path) -> bool:
    """Whether `pid` is still a node this script started under `root` (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return os.getsid(pid) == pid and str(root) in cmdline


def stop(root: Path, keep: bool = False) -> None:
    """End every node started under `root` (SIGTERM, then SIGKILL of what is left of their
    process groups); remove `root` unless `keep`."""
    record = json.loads((root / "cluster.json").read_text())
    pids = [pid for pid in record["pids"] if _ours(pid, root)]
    for pid in reversed(pids):  # worker nodes first, the head last
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline and any(_group_members(pid) for pid in pids):
        time.sleep(0.3)
    for pid in pids:
        if _group_members(pid):
            os.killpg(pid, signal.SIGKILL)
    if not keep:
        shutil.rmtree(root, ignore_errors=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("start", help="start a head and worker nodes; print the address")
    up.add_argument("--dir", type=Path, help="private temp dir (default: a new one in /tmp)")
    up.add_argument("--workers", type=int, default=2, help="worker nodes (default 2)")
    up.add_argument("--worker-cpus", type=int, default=1, help="CPUs per worker node")
    up.add_argument("--head-cpus", type=int, default=0, help="CPUs of the head node")
    down = sub.add_parser("stop", help="stop the cluster started under DIR")
    down.add_argument("dir", type=Path)
    down.add_argument("--keep", action="store_true", help="keep DIR (its logs)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line: `start` prints DIR then the address; `stop` ends the cluster."""
    args = _parser().parse_args(argv)
    if args.command == "stop":
        if not (args.dir / "cluster.json").is_file():
            print(f"{args.dir}: no cluster.json (not a cluster this script started)",
                  file=sys.stderr)
            return 2
        stop(args.dir.resolve(), args.keep)
        return 0
    try:
        node_commands(Path("."), 1, args.workers, args.worker_cpus, args.head_cpus,
                      port_on=lambda ip: 1)
    except ValueError as err:
        print(f"ray_cluster: {err}", file=sys.stderr)
        return 2
    root = (args.dir or Path(tempfile.mkdtemp(prefix="fedsim-ray-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    print(root, flush=True)
    print(start(root, args.workers, args.worker_cpus, args.head_cpus), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
