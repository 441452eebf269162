"""Attack modules: membership inference (+ DP audit), malicious clients, gradient inversion.

`fedsim attack RUN_DIR --kind K` dispatches through `ATTACK_KINDS`: each kind is a function
(run_dir, options) -> results dict, registered by the module named in `_KIND_MODULES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fedsim.registry import Registry

AttackKind = Callable[[Path, dict[str, Any]], dict[str, Any]]
ATTACK_KINDS: Registry[AttackKind] = Registry("attack kind", "--kind")
_KIND_MODULES: tuple[str, ...] = (
    "fedsim.attacks.mia", "fedsim.attacks.inversion", "fedsim.attacks.inversion_sweep",
)


def attack_kinds() -> Registry[AttackKind]:
    """The registry with every attack kind module imported."""
    for name in _KIND_MODULES:
        importlib.import_module(name)
    return ATTACK_KINDS
