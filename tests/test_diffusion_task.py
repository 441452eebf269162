"""The diffusion task: weights only on the wire, reproducible training, per-example losses,
cheap evaluation, config errors, and a real CLI run on digits with sample grids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from fedsim.config import load_config
from fedsim.data import load_federated_data
from fedsim.engine.client_side import ClientRuntime
from fedsim.tasks import build_task
from fedsim.tasks.diffusion import DiffusionTask
from fedsim.validation import prepare

# digits (8x8), a tiny T and UNet: seconds per run
TINY_DIFFUSION = [
    "task.name=diffusion", "task.width=8", "task.diffusion_steps=20", "task.sample_steps=4",
    "task.num_samples=16", "task.eval_examples=16", "task.sample_every=0",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The feature classifier is trained into a per-session cache (digits: about a second)."""
    monkeypatch.setenv("FEDSIM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread: on a shared, busy machine two spinning threads are many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _task(*overrides: str) -> tuple[DiffusionTask, object]:
    cfg = prepare(load_config(None, [*TINY_DIFFUSION, "data.num_clients=2", *overrides]))
    data = load_federated_data(cfg.data, cfg.run.seed)
    return build_task(cfg, data), data


def test_defaults_resolve_to_unet_and_ddpm_mse() -> None:
    cfg = prepare(load_config(None, ["task.name=diffusion"]))
    assert (cfg.task.model, cfg.task.loss) == ("unet", "ddpm_mse")


@pytest.mark.parametrize("conditional", [False, True])
def test_only_weights_cross_the_wire(conditional: bool) -> None:
    task, _ = _task(f"task.conditional={str(conditional).lower()}")
    model = task.build_model()
    runtime_arrays = ClientRuntime(task.cfg, task.data, task, model).arrays()
    names = set(runtime_arrays.keys())
    assert names == {n for n, _ in model.named_parameters()}  # no buffers at all
    assert not any("alpha" in n or "beta" in n for n in names)
    has_class_table = any("class_embedding" in n for n in names)
    assert has_class_table == conditional


def test_training_is_reproducible_and_uses_the_batch_generator() -> None:
    task, data = _task("client.local_steps=2", "client.batch_size=8")
    shard = data.client_data(0)

    def trained(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(0)
        model = task.build_model()
        task.train(model, shard, task.cfg.client, torch.Generator().manual_seed(seed))
        return [p.detach().clone() for p in model.parameters()]

    first, again, other = trained(1), trained(1), trained(2)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_batch_loss_is_the_mean_of_per_example_terms() -> None:
    task, data = _task()
    torch.manual_seed(0)
    model = task.build_model()
    x, y = torch.tensor(data.dev.x[:6]), torch.tensor(data.dev.y[:6])
    task._noise = torch.Generator().manual_seed(3)
    batch = task.batch_loss(model, x, y)
    g = torch.Generator().manual_seed(3)  # the same draws, in the same order, by hand
    t = torch.randint(0, 20, (6,), generator=g)
    noise = torch.randn(x.shape, generator=g)
    per_example = task.denoising_losses(model, x, None, t, noise)
    torch.testing.assert_close(batch, per_example.mean())


def test_per_example_loss_is_seeded_and_independent_of_the_batch() -> None:
    task, data = _task()
    torch.manual_seed(0)
    model = task.build_model()
    x, y = torch.tensor(data.dev.x[:5]), torch.tensor(data.dev.y[:5])
    losses = task.per_example_loss(model, x, y)
    assert losses.shape == (5,) and bool((losses > 0).all())
    torch.testing.assert_close(task.per_example_loss(model, x, y), losses)
    alone = torch.cat([task.per_example_loss(model, x[i : i + 1], y[i : i + 1]) for i in range(5)])
    torch.testing.assert_close(alone, losses, rtol=1e-5, atol=1e-6)
    assert len(set(losses.tolist())) == 5


def test_evaluate_loss_is_the_mean_of_the_t_buckets_and_repeats() -> None:
    task, data = _task()
    torch.manual_seed(0)
    model = task.build_model()
    metrics = task.evaluate(model, data.dev)
    buckets = [k for k in metrics if k != "loss"]
    assert buckets == ["loss_t0_4", "loss_t5_9", "loss_t10_14", "loss_t15_19"]
    assert metrics["loss"] == pytest.approx(np.mean([metrics[k] for k in buckets]))
    assert task.evaluate(model, data.dev) == metrics


BAD = [
    (["task.model=mlp"], "task.model", "allowed: unet"),
    (["task.sample_steps=50"], "task.sample_steps", "allowed: 1 to 20"),
    (["task.sampler=euler"], "task.sampler", "allowed: ddpm, ddim"),
    (["task.beta_schedule=quadratic"], "task.beta_schedule", "linear, cosine"),
    (["task.loss=triplet_margin"], "task.loss", "ddpm_mse"),
    (["task.cond_dropout=1.5"], "task.cond_dropout", "<= 1"),
]


@pytest.mark.parametrize(("extra", "key", "hint"), BAD)
def test_bad_diffusion_config_exits_2(cli, runs_dir: Path, extra: list[str], key: str,
                                      hint: str) -> None:
    sets = [arg for item in [*TINY_DIFFUSION, *extra] for arg in ("--set", item)]
    code, _, err = cli("run", "--runs-dir", str(runs_dir), *sets)
    assert code == 2 and key in err and hint in err and "Traceback" not in err
    assert not any(runs_dir.iterdir())


def test_other_tasks_refuse_the_unet(cli, runs_dir: Path) -> None:
    code, _, err = cli("run", "--runs-dir", str(runs_dir), "--set", "task.model=unet")
    assert code == 2 and "task.model" in err and "diffusion" in err


def test_conditional_run_through_the_cli(cli, runs_dir: Path) -> None:
    """Smoke: digits, 2 rounds, classifier-free guidance; grids and Frechet every round."""
    sets = [*TINY_DIFFUSION, "task.sample_every=1", "task.conditional=true", "run.rounds=2",
            "data.num_clients=3", "client.local_steps=2", "task.sampler_comparison=4"]
    code, out, err = cli("run", "--runs-dir", str(runs_dir),
                         *[arg for item in sets for arg in ("--set", item)])
    assert code == 0, err
    run_dir = Path(out.strip().splitlines()[-1])
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rows] == [0, 1, 2]
    assert all(r["dev"]["frechet"] >= 0 and 0 <= r["dev"]["class_accuracy"] <= 1 for r in rows)
    for name in ("samples/round_000.png", "samples/round_002.png", "samples.png", "frechet.md",
                 "samplers.md", "samples/ddpm.png", "samples/ddim.png"):
        assert (run_dir / name).is_file(), name
    assert "![Samples of the final model (round 2)](samples.png)" in (
        run_dir / "report.md").read_text()
    assert len(list((run_dir / "tb").iterdir())) == 1
    table = (run_dir / "frechet.md").read_text()
    assert "| 0 |" in table and "| 2 |" in table and "not Inception FID" in table
