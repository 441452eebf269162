"""The robustness heatmap: its matrix against the rows it is drawn from, and a tiny sweep whose
heatmap rows come from the cells' own attack configs."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from matplotlib.image import imread

from fedsim.sweep.robustness_plot import heatmap_matrix, plot_robustness_heatmap, threat

SPEC = """
[sweep]
name = "tiny_robustness"
seeds = [0]
set = ["run.rounds=1", "data.num_clients=4", "data.partitioner=iid", "task.model=mlp",
       "client.local_steps=2", "client.batch_size=8", "strategy.federated_eval=false"]
metrics = ["accuracy"]
plots = ["robustness_heatmap"]
[[variant]]
axis = "threat"
name = "clean"
set = ["attack.behaviour=none"]
[[variant]]
axis = "threat"
name = "flip"
set = ["attack.behaviour=sign_flip", "attack.malicious_fraction=0.5", "attack.strength=4.0"]
[[variant]]
axis = "aggregator"
name = "mean"
set = ["strategy.name=fedavg"]
[[variant]]
axis = "aggregator"
name = "median"
set = ["strategy.name=fedmedian"]
"""


def _row(behaviour: str, fraction: float, agg: str, seed: int, acc: float,
         backdoor: float | None = None) -> dict:
    row = {"attack_behaviour": behaviour, "malicious_fraction": fraction, "aggregator": agg,
           "strategy": "fedavg", "seed": seed, "dev_accuracy": acc}
    if backdoor is not None:
        row["dev_backdoor_success"] = backdoor
    return row


ROWS = [
    _row("none", 0.0, "fedavg", 0, 0.9), _row("none", 0.0, "fedavg", 1, 0.8),
    _row("none", 0.0, "krum", 0, 0.7),
    _row("sign_flip", 0.3, "fedavg", 0, 0.1), _row("sign_flip", 0.3, "fedavg", 1, 0.2),
    _row("backdoor", 0.1, "krum", 0, 0.6, backdoor=0.25),
    _row("backdoor", 0.1, "krum", 1, 0.5, backdoor=0.75),
]


def test_matrix_is_the_mean_per_threat_and_aggregator() -> None:
    threats, aggregators, matrix = heatmap_matrix(ROWS, "dev_accuracy")
    assert threats == ["clean", "sign_flip 0.3", "backdoor 0.1"]
    assert aggregators == ["fedavg", "krum"]
    expected = np.array([[0.85, 0.7], [0.15, np.nan], [np.nan, 0.55]])
    np.testing.assert_allclose(matrix, expected, rtol=0, atol=1e-12)
    _, _, backdoor = heatmap_matrix(ROWS, "dev_backdoor_success")
    assert backdoor[2, 1] == 0.5 and np.isnan(backdoor[:2]).all()
    assert threat({"attack_behaviour": "sign_flip", "malicious_fraction": 0.0}) == "clean"


def test_backdoor_adds_a_panel(tmp_path: Path) -> None:
    plot_robustness_heatmap(tmp_path, ROWS[:5], [], ["dev_accuracy"])
    one = imread(tmp_path / "robustness_heatmap.png").shape[1]
    name = plot_robustness_heatmap(tmp_path, ROWS, [], ["dev_accuracy", "dev_backdoor_success"])
    assert imread(tmp_path / name).shape[1] == 2 * one


def test_robustness_sweep_heatmap_matches_the_results(cli, tmp_path: Path, monkeypatch) -> None:
    import fedsim.sweep.robustness_plot as robustness_plot

    drawn: list[list[dict]] = []
    original = robustness_plot.plot_robustness_heatmap

    def spy(sweep_dir: Path, rows: list[dict], *rest: list[str]) -> str:
        drawn.append(rows)
        return original(sweep_dir, rows, *rest)

    monkeypatch.setattr(robustness_plot, "plot_robustness_heatmap", spy)
    spec = tmp_path / "tiny_robustness.toml"
    spec.write_text(SPEC)
    code, out, err = cli("sweep", str(spec), "--sweeps-dir", str(tmp_path / "sweeps"))
    assert code == 0, err
    sweep_dir = Path(out.strip().splitlines()[-1])
    assert "![robustness_heatmap](robustness_heatmap.png)" in (sweep_dir / "results.md").read_text()
    threats, aggregators, matrix = heatmap_matrix(drawn[0], "dev_accuracy")
    assert threats == ["clean", "sign_flip 0.5"] and aggregators == ["mean", "median"]
    cells = list(csv.DictReader((sweep_dir / "results.csv").open()))
    assert len(cells) == 4
    for c in cells:
        i = threats.index("clean" if c["threat"] == "clean" else "sign_flip 0.5")
        assert math.isclose(matrix[i, aggregators.index(c["aggregator"])],
                            float(c["dev_accuracy"]))
