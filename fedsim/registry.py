"""Small name -> factory registries (tasks, datasets, strategies, ...) that refuse duplicates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from fedsim.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of factories; `key` is the config key that selects from it."""

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering `item` under `name`; a second registration is an error."""

        def add(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = item
            return item

        return add

    def get(self, name: str) -> T:
        """The item registered as `name`, or a ConfigError listing the allowed names."""
        if name not in self._items:
            allowed = ", ".join(sorted(self._items))
            raise ConfigError(self.key, f"unknown {self.kind} {name!r}; allowed: {allowed}")
        return self._items[name]

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
