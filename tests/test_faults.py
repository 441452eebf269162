"""Client faults: crashes, NaN senders, stragglers and lost Ray workers are recorded, and the
run goes on with the replies it has; too few usable replies stop it with a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fedsim.engine.faults import CORRUPT, CRASH, FaultPlan, faulty_partitions
from tests.helpers import run_config, small_config


def _failures(run_dir: Path) -> dict[int, list[dict]]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {row["round"]: row.get("failures", []) for row in rows if row["round"] > 0}


def test_faulty_partitions_are_a_seeded_exact_share() -> None:
    chosen = faulty_partitions(3, 10, 0.2, CRASH)
    assert len(chosen) == 2 and chosen <= set(range(10))
    assert chosen == faulty_partitions(3, 10, 0.2, CRASH)
    assert len(faulty_partitions(3, 10, 0.25, CRASH)) == 3  # 2.5 rounds half up
    assert faulty_partitions(3, 10, 0.0, CRASH) == frozenset()
    picks = {faulty_partitions(s, 10, 0.1, CORRUPT) for s in range(40)}
    assert len(picks) >= 8  # the choice depends on the seed


def test_twenty_percent_crashing_every_round(runs_dir: Path) -> None:
    cfg = small_config(runs_dir, "data.num_clients=10", "run.rounds=3",
                       "faults.crash_fraction=0.2")
    crashing = FaultPlan.of(cfg).crash
    run_dir, summary, weights = run_config(cfg)
    per_round = _failures(run_dir)
    assert sorted(per_round) == [1, 2, 3]
    for failures in per_round.values():
        assert sorted(f["partition_id"] for f in failures) == sorted(crashing)
        assert all("injected crash" in f["reason"] and f["stage"] == "train" for f in failures)
    assert summary["failures"] == 6
    assert summary["failed_clients"] == {str(p): 3 for p in crashing}
    report = (run_dir / "report.md").read_text()
    assert "Failed client replies: 6, in 3 of 4 rounds." in report
    a, b = sorted(crashing)
    assert f"By client (partition: failed replies): {a}: 3, {b}: 3" in report
    assert all(torch.isfinite(t).all() for t in weights.values())


def test_one_nan_client_among_ten_is_rejected(runs_dir: Path) -> None:
    cfg = small_config(runs_dir, "data.num_clients=10", "faults.corrupt_fraction=0.1")
    (bad,) = FaultPlan.of(cfg).corrupt
    run_dir, summary, weights = run_config(cfg)
    assert all(torch.isfinite(t).all() for t in weights.values())
    for failures in _failures(run_dir).values():
        assert [f["partition_id"] for f in failures] == [bad]
        assert "rejected by the server" in failures[0]["reason"]
        assert "NaN or Inf" in failures[0]["reason"]
    assert summary["failed_clients"] == {str(bad): 2}
    assert all(v == v for v in summary["final"]["dev"].values())  # no NaN metric
    clean = run_config(small_config(runs_dir, "data.num_clients=10"))[2]
    assert any(not torch.equal(weights[k], clean[k]) for k in clean)  # 9 clients, not 10


def test_a_rejected_update_equals_a_crash_of_the_same_client(runs_dir: Path) -> None:
    """Reference computed another way: dropping a NaN update = the client never replying."""
    seed = next(s for s in range(1000)
                if faulty_partitions(s, 10, 0.1, CRASH) == faulty_partitions(s, 10, 0.1, CORRUPT))
    base = ["data.num_clients=10", f"run.seed={seed}"]
    nan_run = run_config(small_config(runs_dir, *base, "faults.corrupt_fraction=0.1"))
    crash_run = run_config(small_config(runs_dir, *base, "faults.crash_fraction=0.1"))
    assert nan_run[1]["failed_clients"] == crash_run[1]["failed_clients"]
    a, b = nan_run[2], crash_run[2]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_stragglers_past_the_timeout_are_dropped(runs_dir: Path) -> None:
    cfg = small_config(runs_dir, "faults.straggler_fraction=0.25", "faults.straggler_delay=1.0",
                       "run.client_timeout=0.5")
    (slow,) = FaultPlan.of(cfg).straggle
    run_dir, summary, _ = run_config(cfg)
    for failures in _failures(run_dir).values():
        assert [f["partition_id"] for f in failures] == [slow]
        assert failures[0]["reason"].startswith("timed out: no reply within 0.5 s")
    assert summary["failures"] == 2


def test_too_few_clients_stops_the_run(cli, runs_dir: Path) -> None:
    from tests.conftest import SMALL

    sets = [a for s in SMALL for a in ("--set", s)]
    code, out, err = cli("run", "--runs-dir", str(runs_dir), *sets,
                         "--set", "faults.crash_fraction=0.5", "--set", "run.min_replies=3")
    assert code == 2 and "Traceback" not in err + out
    assert "round 1: only 2 of 4 sampled clients returned a usable update" in err
    assert "run.min_replies = 3" in err and "injected crash" in err
    (run_dir,) = runs_dir.iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "ClientFailureError" in manifest["error"]


@pytest.mark.parametrize(
    ("sets", "key"),
    [(["faults.kill_worker_round=1"], "faults.kill_worker_round"),
     (["run.min_replies=5"], "run.min_replies"),
     (["faults.corrupt_kind=zeros"], "faults.corrupt_kind")],
)
def test_bad_fault_settings_are_refused(cli, runs_dir: Path, sets: list[str], key: str) -> None:
    args = [a for s in ["data.num_clients=4", *sets] for a in ("--set", s)]
    code, _, err = cli("run", "--runs-dir", str(runs_dir), *args)
    assert code == 2 and key in err and not any(runs_dir.iterdir())


def test_ray_worker_killed_mid_round_is_replaced(runs_dir: Path) -> None:
    """Round 1 loses the actor hosting partition 0 (2 actors): exactly its clients fail, the
    other actor's succeed; round 2 is whole."""
    cfg = small_config(runs_dir, "run.backend=ray", "run.num_cpus=2",
                       "faults.kill_worker_round=1")
    run_dir, summary, weights = run_config(cfg)
    per_round = _failures(run_dir)
    lost = sorted(f["partition_id"] for f in per_round[1])
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    survived = [c for c in rows[1]["clients"] if c["stage"] == "train"]
    assert 0 in lost and survived, "the 4 clients are split over both actors"
    assert sorted(lost + [c["partition_id"] for c in survived]) == [0, 1, 2, 3]
    assert len({c["worker"] for c in survived}) == 1  # all on the actor that lived
    assert all(f["reason"].startswith("worker lost") for f in per_round[1])
    assert per_round[2] == []
    assert summary["failures"] == len(lost)
    assert all(torch.isfinite(t).all() for t in weights.values())
