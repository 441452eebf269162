"""Environment switches that keep Flower and Ray from phoning home or waiting offline.

Flower's telemetry holds every process up to 4 s at exit and its update check adds ~2 s to
CLI calls; Ray reports usage stats. Set before flwr/ray start; imports nothing heavy.
"""

from __future__ import annotations

import os

QUIET_ENV = {
    "FLWR_TELEMETRY_ENABLED": "0",
    "FLWR_DISABLE_UPDATE_CHECK": "1",
    "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DEDUP_LOGS": "0",
    "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}


def quiet_environment(**extra: str) -> None:
    """Set QUIET_ENV (and `extra`) in os.environ, keeping values the user already set."""
    for key, value in {**QUIET_ENV, **extra}.items():
        os.environ.setdefault(key, value)
