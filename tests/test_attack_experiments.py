"""The README's attack numbers, re-measured (long: ~10 minutes on 2 cores; make test-long)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedsim.config import load_config
from fedsim.sweep.spec import load_spec
from tests.helpers import run_config

REPO = Path(__file__).resolve().parent.parent


def _final_dev(spec: str, runs_dir: Path) -> dict[str, dict[str, float]]:
    """Final dev metrics of every cell of an experiment spec, by cell name."""
    cells = load_spec(REPO / "experiments" / spec).cells
    return {cell.name: run_config(load_config(None, [*cell.overrides,
                                                     f'run.runs_dir="{runs_dir}"']))[1]
            ["final"]["dev"] for cell in cells}


@pytest.mark.long
def test_sign_flip_breaks_fedavg_not_median_or_krum(runs_dir: Path) -> None:
    dev = _final_dev("robust_signflip_fashion.toml", runs_dir)
    clean = dev["clean-fedavg-seed0"]["accuracy"]
    assert dev["signflip-fedavg-seed0"]["accuracy"] < 0.2
    for robust in ("fedmedian", "krum", "multikrum", "bulyan"):
        assert dev[f"signflip-{robust}-seed0"]["accuracy"] > clean - 0.05, robust


@pytest.mark.long
def test_clipping_stops_the_boosted_backdoor(runs_dir: Path) -> None:
    dev = _final_dev("backdoor_clipping_fashion.toml", runs_dir)
    assert dev["boost10-1client-no-clip-seed0"]["backdoor_success"] > 0.9
    assert dev["boost10-1client-clip1.0-seed0"]["backdoor_success"] < 0.3
