"""Config fuzzing: random --set values and random TOML documents never give a traceback.

Parse + validate (load_config, prepare) run in-process for hundreds of generated inputs;
only FedsimError subclasses may escape. A few inputs go through the real console script.
Examples are derandomized, so the suite is the same on every machine. Expensive data sets
(rendered emoji, fashion-mnist, the KJV) are kept out: their loaders are tested elsewhere.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fedsim.config import SECTIONS, load_config
from fedsim.errors import FedsimError
from fedsim.validation import prepare

CHEAP_DATASETS = ("digits", "toy-1d", "fortunes")
FIELDS = {name: {f.name: f for f in dataclasses.fields(cls)} for name, cls in SECTIONS.items()}
KEYS = sorted(f"{s}.{k}" for s, fields in FIELDS.items() for k in fields)
FUZZ = settings(
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _toml_float(x: float) -> str:
    if math.isnan(x):
        return "nan"
    return ("-inf" if x < 0 else "inf") if math.isinf(x) else repr(x)


INTS = st.one_of(st.integers(-3, 40), st.integers(-(2**70), 2**70))
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
WORDS = st.text(min_size=0, max_size=12)


def _value_text(key: str) -> st.SearchStrategy[str]:
    """TOML-ish text for `key`: its allowed choices, numbers, booleans, strings, junk."""
    section, _, name = key.partition(".")
    field = FIELDS.get(section, {}).get(name)
    choices = tuple(field.metadata.get("choices") or ()) if field else ()
    if key == "data.dataset":
        choices = CHEAP_DATASETS
    options = [
        INTS.map(str),
        FLOATS.map(_toml_float),
        st.sampled_from(["true", "false", "[]", "{}", "[1, 2]", '""', "'x'", "1979-05-27"]),
        WORDS.map(lambda s: '"' + s.replace("\\", "").replace('"', "") + '"'),
        WORDS,
    ]
    if choices:
        options.append(st.sampled_from(choices).map(lambda c: f'"{c}"'))
    return st.one_of(*options)


@st.composite
def overrides(draw: st.DrawFn) -> list[str]:
    """1-4 `section.key=value` overrides; mostly real keys, sometimes malformed ones."""
    items = []
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.one_of(st.sampled_from(KEYS), st.sampled_from(KEYS), WORDS))
        if key == "data.dataset" or draw(st.booleans()):
            items.append(f"{key}={draw(_value_text(key))}")
        else:
            items.append(f"{key}={draw(WORDS)}")
    return items


def _parse_and_validate(path: str | None, items: list[str]) -> bool:
    """True if valid; False on a FedsimError; any other exception fails the test."""
    try:
        prepare(load_config(path, items))
    except FedsimError as err:
        assert str(err).strip(), "a FedsimError must say what is wrong"
        return False
    return True


@settings(FUZZ, max_examples=350)
@given(items=overrides())
def test_random_overrides_never_traceback(items: list[str]) -> None:
    _parse_and_validate(None, items)


TOML_VALUES = st.recursive(
    st.one_of(st.integers(-(2**63), 2**63 - 1), FLOATS, st.booleans(), WORDS,
              st.sampled_from(CHEAP_DATASETS)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(WORDS, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def toml_documents(draw: st.DrawFn) -> str:
    """A TOML document over real and made-up sections and keys, sometimes cut or garbled."""
    doc: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 3))):
        section = draw(st.one_of(st.sampled_from(sorted(SECTIONS)), WORDS))
        keys = sorted(FIELDS.get(section, {})) or ["x"]
        table = draw(st.dictionaries(st.one_of(st.sampled_from(keys), WORDS), TOML_VALUES,
                                     max_size=4))
        doc[section] = table if draw(st.integers(0, 9)) else draw(TOML_VALUES)
    text = tomli_w.dumps({k: v for k, v in doc.items() if isinstance(v, dict)})
    cut = draw(st.integers(0, len(text)))
    return draw(st.sampled_from([text, text[:cut], text[:cut] + draw(WORDS) + text[cut:]]))


@settings(FUZZ, max_examples=150)
@given(text=toml_documents())
def test_random_toml_documents_never_traceback(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.toml"
        path.write_text(text, encoding="utf-8")
        _parse_and_validate(str(path), [])


@pytest.mark.parametrize(
    "text",
    ["v = " + "9" * 5000, "[run]\nseed = " + "9" * 5000, "[run]\nseed = 18446744073709551617",
     "[client]\nlr = " + "1" * 400, "\x00\x01", "[run]\nrounds = 1979-05-27"],
)
def test_pathological_documents(text: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    assert not _parse_and_validate(str(path), [])


@pytest.mark.parametrize("bad_path", ["\x00nul.toml", "x" * 5000 + ".toml", "/"])
def test_unreadable_config_paths(bad_path: str) -> None:
    assert not _parse_and_validate(bad_path, [])


def _cli(runs_dir: Path, items: list[str]) -> subprocess.CompletedProcess[str]:
    args = [a for item in items for a in ("--set", item)]
    return subprocess.run(
        [sys.executable, "-m", "fedsim.cli", "run", "--runs-dir", str(runs_dir), *args],
        capture_output=True, text=True, timeout=300,
    )


@settings(FUZZ, max_examples=3)
@given(items=overrides())
def test_console_script_on_random_bad_overrides(items: list[str]) -> None:
    """The real executable: exit 2, one line on stderr, no traceback, nothing written."""
    assume(all("\x00" not in item for item in items))  # argv cannot carry NUL
    assume(not _parse_and_validate(None, items))
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = Path(tmp) / "runs"
        proc = _cli(runs_dir, items)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout
        assert len(proc.stderr.strip().splitlines()) == 1
        assert not runs_dir.exists() or not any(runs_dir.iterdir())
