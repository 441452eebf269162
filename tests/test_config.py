"""Config parsing: types, ranges, overrides, round trip."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedsim.config import (
    Config,
    apply_overrides,
    config_from_toml,
    config_to_toml,
    load_config,
    parse_config,
)
from fedsim.errors import ConfigError


def test_quickstart_is_the_default() -> None:
    cfg = load_config(None)
    assert (cfg.data.dataset, cfg.data.partitioner, cfg.data.num_clients) == (
        "digits",
        "dirichlet",
        10,
    )
    assert cfg.data.alpha == 0.5 and cfg.strategy.name == "fedavg"


def test_overrides_are_typed() -> None:
    cfg = load_config(
        None,
        [
            "run.seed=7",
            "client.lr=1",
            "run.backend=ray",
            'run.name="a b"',
            "strategy.federated_eval=false",
        ],
    )
    assert cfg.run.seed == 7 and isinstance(cfg.run.seed, int)
    assert cfg.client.lr == 1.0 and isinstance(cfg.client.lr, float)
    assert cfg.run.backend == "ray" and cfg.run.name == "a b"
    assert cfg.strategy.federated_eval is False


def test_override_does_not_mutate_input() -> None:
    raw = {"run": {"seed": 1}}
    apply_overrides(raw, ["run.seed=2"])
    assert raw == {"run": {"seed": 1}}


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().run.seed = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"run": {"seed": True}}, "run.seed"),
        ({"run": {"seed": -1}}, "run.seed"),
        ({"client": {"momentum": 1.5}}, "client.momentum"),
        ({"data": {"alpha": 0.0}}, "data.alpha"),
        ({"run": "x"}, "run"),
        ({"client": {"lr": float("nan")}}, "client.lr"),
    ],
)
def test_bad_values_name_their_key(raw: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert err.value.key == key


@given(
    seed=st.integers(0, 2**31),
    lr=st.floats(1e-6, 10.0),
    rounds=st.integers(1, 1000),
    backend=st.sampled_from(["inline", "ray", "flower"]),
    fed_eval=st.booleans(),
)
def test_toml_round_trip(seed: int, lr: float, rounds: int, backend: str, fed_eval: bool) -> None:
    cfg = parse_config(
        {
            "run": {"seed": seed, "rounds": rounds, "backend": backend},
            "client": {"lr": lr},
            "strategy": {"federated_eval": fed_eval},
        }
    )
    assert config_from_toml(config_to_toml(cfg)) == cfg
