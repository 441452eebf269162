"""Gradient inversion: image metrics by hand, the attacked update equals fedsim's own client
step, label inference, DLG recovers one digit, DP noise and batches defeat it, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from fedsim.attacks.gradient_matching import (
    DPNoise,
    client_update,
    dlg,
    infer_labels,
    observed_gradient,
    private_gradient,
)
from fedsim.attacks.image_quality import C1, psnr, ssim
from fedsim.attacks.inversion_sweep import sweep_settings
from fedsim.config import ClientSection
from fedsim.data import ArrayDataset
from fedsim.models import MODELS
from tests.helpers import run_config, small_config


def test_psnr_and_ssim_by_hand() -> None:
    x = torch.full((1, 1, 12, 12), 0.5)
    assert psnr(x, x + 0.1) == pytest.approx(20.0)  # MSE 0.01 -> 10 log10(1 / 0.01)
    assert math.isinf(psnr(x, x))
    assert ssim(x, x) == pytest.approx(1.0)
    # constant images a, b: only the luminance term is left, (2ab + C1) / (a^2 + b^2 + C1)
    a, b = 0.5, 0.2
    expected = (2 * a * b + C1) / (a * a + b * b + C1)
    assert ssim(torch.full((1, 1, 12, 12), a), torch.full((1, 1, 12, 12), b)) == pytest.approx(
        expected)
    noise = torch.rand((1, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    img = torch.linspace(0, 1, 28 * 28).reshape(1, 1, 28, 28)
    assert ssim(img, 0.9 * img + 0.1 * noise) > ssim(img, 0.5 * img + 0.5 * noise) > 0


def _digits_batch(n: int) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    torch.manual_seed(0)
    model = MODELS.get("lenet_sigmoid")((1, 8, 8), 10, 12)
    x = torch.tensor(digits.images[:n, None] / 16.0, dtype=torch.float32)
    return model, x, torch.tensor(digits.target[:n])


def test_attacked_update_is_fedsims_own_client_step() -> None:
    from fedsim.tasks.local_sgd import local_sgd

    model, x, y = _digits_batch(4)
    ours = client_update(model, x, y, lr=0.1, steps=1)
    local = __import__("copy").deepcopy(model)
    before = [p.detach().clone() for p in local.parameters()]
    client = ClientSection(local_steps=1, batch_size=4, lr=0.1)
    loss = torch.nn.functional.cross_entropy
    local_sgd(local, ArrayDataset(x.numpy(), y.numpy()), client, torch.Generator().manual_seed(0),
              lambda m, a, b: loss(m(a), b))
    for mine, p, p0 in zip(ours, local.parameters(), before, strict=True):
        torch.testing.assert_close(mine, p.detach() - p0, rtol=1e-4, atol=1e-6)


def test_private_gradient_clips_each_example_and_adds_noise() -> None:
    model, x, y = _digits_batch(3)
    plain = observed_gradient(client_update(model, x, y, 0.1, 1), 0.1, 1)
    loose = private_gradient(model, x, y, DPNoise(0.0, 1e9), torch.Generator())
    for a, b in zip(plain, loose, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    tight = private_gradient(model, x, y, DPNoise(0.0, 0.01), torch.Generator())
    assert float(torch.sqrt(sum((t**2).sum() for t in tight))) <= 0.01 + 1e-7
    noisy = private_gradient(model, x, y, DPNoise(1.0, 0.01), torch.Generator().manual_seed(1))
    assert float(torch.sqrt(sum((t**2).sum() for t in noisy))) > 0.05  # noise dominates


def test_label_inference_finds_single_labels() -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    model, _, _ = _digits_batch(1)
    for i in range(10):
        x = torch.tensor(digits.images[i : i + 1, None] / 16.0, dtype=torch.float32)
        y = torch.tensor(digits.target[i : i + 1])
        g = observed_gradient(client_update(model, x, y, 0.1, 1), 0.1, 1)
        assert infer_labels(model, g, 1).tolist() == y.tolist()


def test_dlg_recovers_one_digit_and_noise_defeats_it() -> None:
    torch.set_num_threads(1)
    model, x, y = _digits_batch(1)
    g = observed_gradient(client_update(model, x, y, 0.1, 1), 0.1, 1)
    recon = dlg(model, g, tuple(x.shape), infer_labels(model, g, 1), iterations=100, seed=1)
    assert psnr(recon, x) >= 20.0
    dp = DPNoise(0.1, 1.0)
    noisy = observed_gradient(client_update(model, x, y, 0.1, 1, dp, seed=2), 0.1, 1)
    bad = dlg(model, noisy, tuple(x.shape), infer_labels(model, noisy, 1), iterations=100, seed=1)
    assert psnr(bad, x) < psnr(recon, x) - 10


def test_sweep_varies_one_axis_at_a_time() -> None:
    _, settings = sweep_settings({"batch_sizes": [1, 8], "steps_list": [1], "noise_list": [0.1]})
    assert settings == [{"batch_size": 1}, {"batch_size": 8},
                        {"noise_multiplier": 0.1, "dp": True}]


def test_cli_inversion_writes_results_and_refuses_bad_options(cli, runs_dir: Path) -> None:
    run_dir = run_config(small_config(runs_dir, "task.model=lenet_sigmoid", "task.width=12",
                                      "run.rounds=1"))[0]
    code, out, err = cli("attack", str(run_dir), "--kind", "inversion", "--set", "iterations=60")
    assert code == 0, err
    results = json.loads((run_dir / "attacks/inversion/results.json").read_text())
    assert results["setting"]["batch_size"] == 1 and results["labels_correct"]
    assert np.isfinite(results["psnr"])
    assert (run_dir / "attacks/inversion/reconstructions.png").is_file()
    assert "## Attacks on this run" in (run_dir / "report.md").read_text()
    code, _, err = cli("attack", str(run_dir), "--kind", "inversion", "--set", "method=fancy")
    assert code == 2 and "method" in err and "dlg, ig" in err
