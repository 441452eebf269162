"""Membership inference end to end: an overfit digits federation leaks, the CLI reports it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_config, small_config

# few examples per client, many local epochs: a federation that memorises its data
OVERFIT = [
    "data.train_examples=60",
    "data.num_clients=3",
    "run.rounds=10",
    "client.local_steps=0",
    "client.local_epochs=20",
    "client.batch_size=8",
    "client.lr=0.1",
    "task.width=32",
    "attack.mia=true",
]


@pytest.fixture(scope="module")
def overfit_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    runs = tmp_path_factory.mktemp("runs")
    run_dir, summary, _ = run_config(small_config(runs, *OVERFIT))
    return run_dir, summary


def test_overfit_run_leaks_membership(overfit_run: tuple[Path, dict]) -> None:
    run_dir, summary = overfit_run
    mia = summary["attacks"]["mia"]
    assert mia["members"] == mia["non_members"] == 60
    assert mia["attacks"]["loss"]["auc"] > 0.6
    results = json.loads((run_dir / "attacks" / "mia" / "results.json").read_text())
    assert results["attacks"]["loss"]["auc"] == mia["attacks"]["loss"]["auc"]
    assert results["non_member_source"] == "held-out training examples"
    assert (run_dir / "attacks" / "mia" / "roc.png").stat().st_size > 1000
    report = (run_dir / "report.md").read_text()
    assert "## Attacks on this run" in report and "attacks/mia/roc.png" in report


def test_cli_attack_with_shadow_models(overfit_run: tuple[Path, dict], cli) -> None:  # type: ignore[no-untyped-def]
    run_dir, _ = overfit_run
    code, out, err = cli("attack", str(run_dir), "--kind", "mia", "--set", "shadow_models=2")
    assert code == 0, err
    assert "lira_online AUC" in out.splitlines()[-2]
    results = json.loads((run_dir / "attacks" / "mia" / "results.json").read_text())
    assert set(results["attacks"]) == {"loss", "lira_offline", "lira_online"}
    assert results["shadow_models"] == 2
    assert len(list((run_dir / "attacks" / "mia" / "shadows").glob("shadow-*"))) == 2
    assert "lira_offline" in (run_dir / "report.md").read_text()


def test_client_update_attack_beats_chance(tmp_path: Path) -> None:
    cfg = small_config(tmp_path, *OVERFIT, 'attack.mia_target="client"', "attack.target_client=1",
                       "run.rounds=2")
    run_dir, summary, _ = run_config(cfg)
    meta = json.loads((run_dir / "attacks" / "captured" / "meta.json").read_text())
    assert meta == {"partition_id": 1, "round": 2, "form": "weights"}
    mia = summary["attacks"]["mia"]
    assert mia["target"] == "client" and mia["members"] == 20  # client 1's whole shard
    assert mia["attacks"]["update_loss_drop"]["auc"] > 0.7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("attack", "/no/such/run", "--kind", "mia"), "not a run directory"),
        (("attack", ".", "--kind", "nope"), "unknown attack kind 'nope'"),
    ],
)
def test_cli_attack_bad_input_exits_2(cli, args, message) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_cli_attack_bad_option_and_unfinished_run(overfit_run, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run_dir, _ = overfit_run
    code, _, err = cli("attack", str(run_dir), "--kind", "mia", "--set", "shadow_modles=2")
    assert code == 2 and "attack.shadow_modles" in err and "shadow_models" in err
    code, _, err = cli("attack", str(run_dir), "--kind", "mia", "--set", "target_client=9")
    assert code == 2 and "attack.target_client" in err
    code, _, err = cli("attack", str(run_dir), "--kind", "mia", "--set", "mia_target=client")
    assert code == 2 and "no client update was recorded" in err
    code, _, err = cli("attack", str(tmp_path), "--kind", "mia")
    assert code == 2 and "not a finished run directory" in err


def test_masked_vector_read_back_inverts_flower_quantization() -> None:
    import numpy as np
    import torch
    from flwr.common.secure_aggregation.quantization import quantize

    from fedsim.attacks.update_attack import masked_as_weights

    rng = np.random.default_rng(0)
    weights = {"a": rng.uniform(-1, 1, (3, 4)).astype(np.float32),
               "b": rng.uniform(-1, 1, 5).astype(np.float32)}
    c, q = 2.0, 2**16
    vectors = [np.array([7]), *quantize(list(weights.values()), c, q)]  # factor first, no mask
    template = {k: torch.from_numpy(v) for k, v in weights.items()}
    back = masked_as_weights(vectors, template, c, q)
    for name, value in weights.items():
        assert back[name].dtype == torch.float32
        np.testing.assert_allclose(back[name].numpy(), value, atol=2 * c / q)


def test_client_update_attack_under_secagg_sees_only_masks(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """SecAgg+ refuses attack.mia_target = 'client' in the config (the server has no clear
    update); here the capture is forced on to show what the attack gets from masked vectors."""
    import fedsim.engine.session as session
    from fedsim.attacks.capture import UpdateCapture
    from fedsim.attacks.mia import run_mia

    monkeypatch.setattr(session, "update_capture",
                        lambda cfg, run_dir: UpdateCapture(run_dir, 0, 1))
    cfg = small_config(tmp_path, *OVERFIT[:-1], "data.train_examples=240", "run.rounds=1",
                       "secagg.enabled=true")
    run_dir, _, _ = run_config(cfg)
    meta = json.loads((run_dir / "attacks" / "captured" / "meta.json").read_text())
    assert meta["form"] == "secagg_masked_vectors"
    results = run_mia(run_dir, {"mia_target": "client", "target_client": 0})
    assert results["members"] == 80
    assert abs(results["attacks"]["update_loss_drop"]["auc"] - 0.5) < 0.15  # sd about 0.045
