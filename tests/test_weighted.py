"""Example-weighted client metric means, shared by Flower's hook and the round records."""

from __future__ import annotations

import pytest
from flwr.app import MetricRecord, RecordDict

from fedsim.engine.strategies import average_metrics
from fedsim.weighted import weighted_means


def test_weighted_means_by_hand() -> None:
    rows = [{"num-examples": 1, "loss": 4.0, "accuracy": 0.0, "partition-id": 7, "extra": 1.0},
            {"num-examples": 3, "loss": 0.0, "accuracy": 1.0, "partition-id": 9}]
    # (1*4 + 3*0)/4 = 1.0; (1*0 + 3*1)/4 = 0.75; ids skipped; "extra" not shared by all rows
    assert weighted_means(rows, "num-examples") == {"accuracy": 0.75, "loss": 1.0}


def test_no_weight_means_no_average() -> None:
    assert weighted_means([], "num_examples") is None
    assert weighted_means([{"num_examples": 0, "loss": 1.0}], "num_examples") is None


def test_flower_hook_uses_the_same_means() -> None:
    records = [RecordDict({"m": MetricRecord({"num-examples": n, "loss": x})})
               for n, x in [(1, 2.0), (1, 4.0)]]
    assert dict(average_metrics(records, "num-examples")) == {"loss": pytest.approx(3.0)}
