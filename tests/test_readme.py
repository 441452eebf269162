"""The README documents every config key and both set-up commands."""

from __future__ import annotations

from pathlib import Path

from fedsim.config import describe_keys

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_config_key_is_documented() -> None:
    missing = [key for key, _, _ in describe_keys() if f"`{key}`" not in README]
    assert missing == []


def test_two_commands_are_there() -> None:
    assert "make demo" in README and "make test" in README
