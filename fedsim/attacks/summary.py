"""What a run records about its malicious clients (summary.json["attack"])."""

from __future__ import annotations

from typing import Any

from fedsim.attacks.malicious import malicious_set
from fedsim.config import Config


def attack_summary(cfg: Config) -> dict[str, Any]:
    """The configured behaviour and the malicious partition ids the seed chose."""
    a = cfg.attack
    return {
        "behaviour": a.behaviour,
        "malicious_fraction": a.malicious_fraction,
        "malicious_clients": list(malicious_set(cfg)),
        "collusion": a.collusion,
    }
