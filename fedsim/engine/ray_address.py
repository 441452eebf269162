"""`run.ray_address`: which Ray a `ray` run uses, a private local instance or a running cluster.

"" (the default) starts a private local instance (`ray.init(address="local")`): a stray cluster
on the machine is never joined by accident, and RAY_ADDRESS is not read. HOST:PORT joins the
cluster whose head (GCS) listens there; "env" takes that HOST:PORT from RAY_ADDRESS. A joined
cluster is only connected to and disconnected from, never started or stopped, and its CPUs
(not `run.num_cpus`) size the actor pool.

Ray waits minutes on an address where nothing listens, so a joined address is first probed
with a plain TCP connect: a refusal is a ConfigError naming the key, before anything is written.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from typing import Any

from fedsim.config import Config
from fedsim.errors import ConfigError, IncompatibleOptionsError

KEY = "run.ray_address"
ENV_VALUE = "env"  # run.ray_address = "env": take HOST:PORT from RAY_ADDRESS
LOCAL = "local"  # ray.init's address for a new private instance
PROBE_TIMEOUT_S = 5.0
_ALLOWED = (
    '"" (a private local Ray), HOST:PORT of a running cluster\'s head (e.g. "127.0.0.2:6379"), '
    'or "env" (HOST:PORT from RAY_ADDRESS)'
)


def parse_host_port(text: str) -> tuple[str, int] | None:
    """(host, port) of a HOST:PORT string, or None when it is not one."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    if any(c.isspace() or c in "/@" for c in host):  # no URLs (ray://), no spaces
        return None
    return host.strip("[]"), int(port)


def check_ray_address(cfg: Config) -> None:
    """Refuse a malformed run.ray_address, or one set for a backend other than `ray`."""
    value = cfg.run.ray_address
    if not value:
        return
    if cfg.run.backend != "ray":
        raise IncompatibleOptionsError(
            KEY, f"joins a Ray cluster for run.backend = 'ray' only, not {cfg.run.backend!r}; "
            "allowed: \"\", or run.backend = 'ray'")
    if value != ENV_VALUE and parse_host_port(value) is None:
        raise ConfigError(KEY, f"{value!r} is not HOST:PORT; allowed: {_ALLOWED}")


def resolve_ray_address(value: str, environ: Mapping[str, str] = os.environ) -> str:
    """The HOST:PORT to join for run.ray_address `value` ("" stays "": a private instance)."""
    if value != ENV_VALUE:
        return value
    from_env = environ.get("RAY_ADDRESS", "")
    if parse_host_port(from_env) is None:
        raise ConfigError(
            KEY, f'"env" takes HOST:PORT from RAY_ADDRESS, which is {from_env!r}; '
            f"allowed: {_ALLOWED}")
    return from_env


def probe_cluster(address: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """A ConfigError unless something accepts TCP connections at `address` (HOST:PORT)."""
    host, port = parse_host_port(address) or ("", 0)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ConfigError(
            KEY, f"no Ray cluster answers at {address!r} ({reason}); start one first "
            "(scripts/ray_cluster.py start) or use \"\" for a private local Ray") from None


def local_target(num_cpus: int) -> tuple[str, int]:
    """(address, CPUs) of the private local Ray for `run.num_cpus` (0 = this machine's)."""
    return (LOCAL, num_cpus or os.cpu_count() or 1)


def init_kwargs(num_cpus: int, address: str) -> dict[str, Any]:
    """ray.init's arguments: a private instance of `num_cpus` CPUs, or the cluster at `address`.

    A joined cluster brings its own CPUs (ray.init refuses num_cpus then) and its own dashboard.
    """
    common: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": True}
    if address:
        return {"address": address, **common}
    return {"address": LOCAL, "num_cpus": num_cpus, "include_dashboard": False, **common}
