"""`fedsim attack --set KEY=VALUE` options: values read as TOML, keys checked by the kind."""

from __future__ import annotations

from typing import Any

from fedsim.config import _parse_value
from fedsim.errors import ConfigError


def parse_options(items: list[str]) -> dict[str, Any]:
    """{key: value} of ``key=value`` items (numbers, booleans, quoted or bare strings)."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(item, "an attack option must look like key=value, "
                              "e.g. shadow_models=4")
        options[key.strip()] = _parse_value(text.strip())
    return options
