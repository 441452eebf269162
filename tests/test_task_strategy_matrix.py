"""Every task trains federated with every strategy, and central (1 client)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from fedsim.config import load_config
from fedsim.data import DATASETS
from fedsim.engine.strategies import STRATEGIES
from tests.conftest import SMALL
from tests.helpers import run_config
from tests.test_clip import CLIP, needs_minilm
from tests.test_diffusion_task import TINY_DIFFUSION
from tests.test_metric_task import METRIC
from tests.test_nextword import TINY, TINY_RUN, TINY_SOURCE

TASKS = {
    "metric": [*SMALL, *METRIC],
    "clip": [*SMALL, *CLIP, "data.dataset=digits"],
    "nextword": TINY_RUN,
    "diffusion": [*SMALL, *TINY_DIFFUSION, "task.model=unet", "task.loss=ddpm_mse"],
}
CENTRAL = ["data.num_clients=1", "data.partitioner=iid", "strategy.clients_per_round=0"]


def _run(runs_dir: Path, monkeypatch: pytest.MonkeyPatch, task: str, *extra: str) -> dict:
    monkeypatch.setitem(DATASETS._items, TINY, TINY_SOURCE)
    cfg = load_config(None, [*TASKS[task], f'run.runs_dir="{runs_dir}"', "run.rounds=1", *extra])
    _, summary, weights = run_config(cfg)
    assert all(bool(w.isfinite().all()) for w in weights.values())
    assert all(math.isfinite(v) for v in summary["final"]["dev"].values())
    return summary


@pytest.mark.parametrize("strategy", STRATEGIES.names())
@pytest.mark.parametrize("task", [pytest.param("clip", marks=needs_minilm), "metric", "nextword",
                                  "diffusion"])
def test_task_with_strategy(runs_dir: Path, monkeypatch: pytest.MonkeyPatch, task: str,
                            strategy: str) -> None:
    steps = "client.local_steps=1" if strategy == "fedsgd" else "client.local_steps=2"
    summary = _run(runs_dir, monkeypatch, task, f"strategy.name={strategy}", steps)
    assert (summary["task"], summary["strategy"]) == (task, strategy)
    # text corpora hold clients out of training; their metrics are a third final split
    assert ("heldout" in summary["final"]) == (task == "nextword")
    if task == "nextword":
        assert {"perplexity", "accuracy"} <= summary["final"]["heldout"].keys()


@pytest.mark.parametrize("task", [pytest.param("clip", marks=needs_minilm), "metric", "nextword",
                                  "diffusion"])
def test_task_central(runs_dir: Path, monkeypatch: pytest.MonkeyPatch, task: str) -> None:
    extra = [] if task != "nextword" else ["data.partitioner=iid"]
    summary = _run(runs_dir, monkeypatch, task, *CENTRAL, *extra)
    assert summary["num_clients"] == 1
