"""Sweep rigor: variant axes, shared includes, the checklist's flags, overlap and curves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fedsim.data import ArrayDataset, FederatedData
from fedsim.data.overlap import split_overlap
from fedsim.errors import ConfigError
from fedsim.sweep.curves import cell_curves
from fedsim.sweep.rigor import hparams_line, overlap_line
from fedsim.sweep.spec import NOT_STATED, load_spec
from fedsim.sweep.table import flags

AXES = """
[sweep]
name = "axes"
seeds = [3, 4]
include = ["periods.toml"]
set = ["data.num_clients=3", "task.model=mlp"]
[[variant]]
axis = "data"
name = "iid"
set = ["data.partitioner=iid"]
[[variant]]
axis = "data"
name = "skewed"
set = ["data.partitioner=dirichlet", "data.alpha=0.3"]
"""
PERIODS = """
[[variant]]
axis = "H"
name = "H1"
set = ["run.rounds=4", "client.local_steps=1"]
[[variant]]
axis = "H"
name = "H4"
set = ["run.rounds=1", "client.local_steps=4"]
"""


def _write(tmp_path: Path, spec: str, periods: str = PERIODS) -> Path:
    (tmp_path / "periods.toml").write_text(periods)
    path = tmp_path / "axes.toml"
    path.write_text(spec)
    return path


def test_axes_cross_and_link_keys(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, AXES))
    assert [c.name for c in spec.cells[:3]] == ["iid-H1-seed3", "iid-H1-seed4", "iid-H4-seed3"]
    assert len(spec.cells) == 2 * 2 * 2 and spec.seeds == (3, 4)
    cell = next(c for c in spec.cells if c.name == "skewed-H4-seed4")
    assert dict(cell.labels) == {"data": "skewed", "H": "H4"}
    assert cell.overrides[-5:] == ("data.partitioner=dirichlet", "data.alpha=0.3",
                                   "run.rounds=1", "client.local_steps=4", "run.seed=4")
    assert spec.hparams == NOT_STATED and "FLAG" in hparams_line(spec)


def test_spec_refuses_bad_includes_plots_and_hparams(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sweep.include"):
        load_spec(_write(tmp_path, AXES, PERIODS + '\n[sweep]\nname = "x"\n'))
    with pytest.raises(ConfigError, match="sweep.plots"):
        load_spec(_write(tmp_path, AXES.replace('seeds', 'plots = ["nope"]\nseeds')))
    with pytest.raises(ConfigError, match="sweep.hparams"):
        load_spec(_write(tmp_path, AXES.replace('seeds', 'hparams = 3\nseeds')))
    stated = load_spec(_write(tmp_path, AXES.replace('seeds', 'hparams = "dev search"\nseeds')))
    assert hparams_line(stated) == "- Hyper-parameters chosen by: dev search"


def test_flags_spread_too_good_and_attack_at_chance() -> None:
    assert flags("dev_accuracy", [0.8, 0.8 + 1e-9]) == [
        "dev_accuracy identical across seeds (std ~0: is the seed used?)"]
    assert flags("dev_accuracy", [0.80, 0.82]) == []
    too_good = flags("dev_recall_at_1", [0.995, 0.993])
    assert len(too_good) == 1 and "leakage (Split overlap below)" in too_good[0]
    assert any("at chance" in f for f in flags("attack_auc", [0.5, 0.502]))
    assert not any("at chance" in f for f in flags("attack_auc", [0.5, 0.502], private=True))
    assert not any("at chance" in f for f in flags("attack_auc", [0.6, 0.62]))


def _data(x: np.ndarray, train: list[int], dev: list[int], test: list[int]) -> FederatedData:
    def part(idx: list[int]) -> ArrayDataset:
        return ArrayDataset(x[idx], np.zeros(len(idx), dtype=np.int64))

    return FederatedData("t", part(train), part(dev), part(test), (np.arange(len(train)),), 1,
                         ("a",), (1, 1, 2))


def test_split_overlap_counts_identical_inputs() -> None:
    x = np.arange(12, dtype=np.float32).reshape(6, 1, 1, 2)
    x[5] = x[0]  # row 5 is a copy of row 0
    data = _data(x, train=[0, 1, 2], dev=[3, 5], test=[4, 1, 5])
    assert split_overlap(data) == {"train_dev": 1, "train_test": 2, "dev_test": 1}
    rows = [{"overlap": {"train_dev": 0, "train_test": 0}}, {"overlap": {"train_dev": 3,
                                                                          "train_test": 0}}]
    assert "train∩dev 3, train∩test 0" in overlap_line(rows) and "FLAG" in overlap_line(rows)
    assert "not recorded" in overlap_line([{}])


def test_cell_curves_put_rounds_on_a_local_step_scale(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[client]\nlocal_steps = 5\n")
    records = [{"round": 0, "dev": {"loss": 2.0}},
               {"round": 1, "dev": {"loss": 1.5}, "train": {"loss": 1.8}},
               {"round": 2, "dev": {"loss": 1.0}, "train": {"loss": 1.2}}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert cell_curves(tmp_path) == {"dev": [(0, 2.0), (5, 1.5), (10, 1.0)],
                                     "train": [(5, 1.8), (10, 1.2)]}


@pytest.mark.parametrize(("spec", "cells"), [("agg_frequency_classify.toml", 90),
                                             ("agg_frequency.toml", 360)])
def test_shipped_agg_frequency_specs_spend_one_budget(spec: str, cells: int) -> None:
    """Every cell of the shipped specs trains each client for exactly B = 100 local steps."""
    from fedsim.config import apply_overrides, parse_config

    loaded = load_spec(Path(__file__).parent.parent / "experiments" / spec)
    assert len(loaded.cells) == cells and loaded.hparams != NOT_STATED
    for cell in loaded.cells:
        cfg = parse_config(apply_overrides(loaded.base, list(cell.overrides)))
        assert cfg.run.rounds * cfg.client.local_steps == 100, cell.name
