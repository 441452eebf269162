"""The errors fedsim raises on bad input: each names what was wrong and what is allowed.

The CLI turns every FedsimError into one line on stderr and exit code 2, with no traceback.
"""

from __future__ import annotations


class FedsimError(Exception):
    """Base class of every user-facing fedsim error."""


class ConfigError(FedsimError):
    """A config key, value or file is wrong; `key` names it (e.g. ``client.lr``)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class IncompatibleOptionsError(ConfigError):
    """Two or more options are each valid but cannot be combined."""


class DataError(FedsimError):
    """A data source is missing or unreadable; the message names the file or package."""


class ClientFailureError(FedsimError):
    """Too few clients returned a usable reply for the run to go on."""
