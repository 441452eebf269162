"""The task registry: ``task.name`` -> a class built from (config, federated data)."""

from __future__ import annotations

from collections.abc import Callable

from fedsim.registry import Registry

TASKS: Registry[Callable] = Registry("task", "task.name")
