"""`fedsim attack RUN_DIR --kind inversion`: reconstruct one client's training batch from the
update it would send in round 1 (FedSGD: one step; `local_steps` > 1: several), with DLG or
Inverting Gradients, optionally under DP-SGD noise. Writes RUN_DIR/attacks/inversion/
(results.json, reconstructions.png: originals above, reconstructions below).

Options (--set key=value): method (dlg | ig), client, batch_size, local_steps, lr (default:
the run's client.lr), noise_multiplier, clip, dp (clip per example even at noise 0),
iterations (default: dlg 200, ig 1000), tv_weight, labels (infer | joint: DLG's soft
labels), weights (initial | final), seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from scipy.optimize import linear_sum_assignment
from torch import nn

from fedsim.attacks import ATTACK_KINDS
from fedsim.attacks.gradient_matching import (
    DPNoise,
    client_update,
    dlg,
    infer_labels,
    inverting_gradients,
    observed_gradient,
)
from fedsim.attacks.image_quality import psnr, ssim
from fedsim.attacks.inversion_plot import plot_reconstructions
from fedsim.config import Config, config_from_toml
from fedsim.data import load_federated_data
from fedsim.engine.seeding import seed_server, stream_seed
from fedsim.errors import ConfigError, FedsimError
from fedsim.tasks import build_task
from fedsim.tracking.run_dir import write_json

FOLDER = "inversion"


@dataclass(frozen=True)
class InversionOptions:
    """What the attacker does and what the client did (one reconstruction)."""

    method: str = "dlg"
    client: int = 0
    batch_size: int = 1
    local_steps: int = 1
    lr: float = 0.0  # 0 = the run's client.lr
    noise_multiplier: float = 0.0
    clip: float = 1.0
    dp: bool = False  # DP-SGD clipping even at noise 0 (always on when noise_multiplier > 0)
    iterations: int = 0  # 0 = 200 for dlg, 1000 for ig
    tv_weight: float = 1e-2
    labels: str = "infer"
    weights: str = "initial"
    seed: int = 0

    def steps(self) -> int:
        """Optimiser iterations (the method's default when 0)."""
        return self.iterations or (200 if self.method == "dlg" else 1000)


CHOICES = {"method": ("dlg", "ig"), "labels": ("infer", "joint"), "weights": ("initial", "final")}
POSITIVE = ("batch_size", "local_steps", "clip")


def parse_inversion_options(options: dict[str, Any]) -> InversionOptions:
    """Typed options, or a ConfigError naming the bad option and what is allowed."""
    known = {f.name: f for f in fields(InversionOptions)}
    values: dict[str, Any] = {}
    for key, value in options.items():
        if key not in known:
            raise ConfigError(key, f"unknown inversion option; allowed: {', '.join(known)}")
        kind = type(known[key].default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
            raise ConfigError(key, f"expected {kind.__name__}, got {value!r}")
        if key in CHOICES and value not in CHOICES[key]:
            raise ConfigError(key, f"{value!r} is not allowed; allowed: {', '.join(CHOICES[key])}")
        if (kind in (int, float) and value < 0) or (key in POSITIVE and value <= 0):
            raise ConfigError(key, f"{value!r} is out of range; allowed: "
                              f"{'> 0' if key in POSITIVE else '>= 0'}")
        values[key] = value
    return InversionOptions(**values)


def load_attacked_model(run_dir: Path, cfg: Config, which: str) -> tuple[Any, nn.Module]:
    """(data, model): the run's data and its round-1 global model (`initial`) or final one."""
    data = load_federated_data(cfg.data, cfg.run.seed)
    task = build_task(cfg, data)
    seed_server(cfg.run.seed)  # the engine seeds torch this way before building the model
    model = task.build_model()
    if which == "final":
        model.load_state_dict(load_file(str(run_dir / "weights.safetensors")))
    return data, model.eval()


def client_batch(data: Any, opts: InversionOptions, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded batch of `opts.batch_size` examples from client `opts.client`'s shard."""
    shard = data.partitions[opts.client]
    rng = np.random.default_rng(stream_seed(seed, opts.seed, opts.client))
    idx = np.sort(rng.choice(shard, size=min(opts.batch_size, len(shard)), replace=False))
    return torch.tensor(data.train.x[idx]), torch.tensor(data.train.y[idx])


def match_order(recon: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """`recon` reordered so that image i best matches original i (least total MSE)."""
    cost = ((recon[None] - original[:, None]) ** 2).flatten(2).mean(2)
    rows, cols = linear_sum_assignment(cost.numpy())
    return recon[torch.as_tensor(cols[np.argsort(rows)])]


def reconstruct(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                opts: InversionOptions) -> dict[str, Any]:
    """Run the client step and the attack; return images and quality numbers."""
    private = opts.dp or opts.noise_multiplier > 0
    dp = DPNoise(opts.noise_multiplier, opts.clip) if private else None
    update = client_update(model, x, y, opts.lr, opts.local_steps, dp, seed=opts.seed)
    gradient = observed_gradient(update, opts.lr, opts.local_steps)
    labels = infer_labels(model, gradient, len(x))
    shape = tuple(x.shape)
    if opts.method == "ig":
        recon = inverting_gradients(model, gradient, shape, labels, opts.steps(), opts.seed,
                                    opts.tv_weight)
    else:
        recon = dlg(model, gradient, shape, None if opts.labels == "joint" else labels,
                    opts.steps(), opts.seed)
    recon = match_order(recon, x)
    per_image = [psnr(r[None], o[None]) for r, o in zip(recon, x, strict=True)]
    return {"recon": recon, "original": x,
            "psnr": float(np.mean([min(p, 100.0) for p in per_image])),
            "psnr_per_image": per_image, "ssim": ssim(recon, x),
            "labels_true": y.tolist(), "labels_inferred": sorted(labels.tolist()),
            "labels_correct": sorted(labels.tolist()) == sorted(y.tolist())}


def dp_label(opts: InversionOptions) -> str:
    """'no DP', or DP-SGD's clip and noise multiplier."""
    if not (opts.dp or opts.noise_multiplier > 0):
        return "no DP"
    return f"DP clip {opts.clip:g} noise {opts.noise_multiplier:g}"


def _setting(opts: InversionOptions) -> dict[str, Any]:
    return {f.name: getattr(opts, f.name) for f in fields(opts)} | {"iterations": opts.steps()}


def run_config(run_dir: Path) -> Config:
    """The resolved config of a run directory; refuses runs this attack cannot use."""
    path = run_dir / "config.toml"
    if not path.is_file():
        raise FedsimError(f"{run_dir}: not a run directory (no config.toml)")
    cfg = config_from_toml(path.read_text(encoding="utf-8"))
    if cfg.task.name != "classify":
        raise ConfigError("--kind inversion", f"needs an image classification run "
                          f"(task.name = 'classify'), got {cfg.task.name!r}")
    return cfg


def invert(run_dir: Path, options: dict[str, Any]) -> tuple[InversionOptions, dict[str, Any],
                                                             Any]:
    """Parse options, load the model, attack once; (options, result, data)."""
    cfg = run_config(run_dir)
    opts = parse_inversion_options(options)
    opts = replace(opts, lr=opts.lr or cfg.client.lr)
    if opts.client >= cfg.data.num_clients:
        raise ConfigError("client", f"{opts.client} is not a client of this run; allowed: 0 "
                          f"to {cfg.data.num_clients - 1}")
    if opts.weights == "final" and not (run_dir / "weights.safetensors").is_file():
        raise FedsimError(f"{run_dir}: no weights.safetensors for weights = 'final'")
    torch.set_num_threads(1)  # tiny double-backward ops: threads only add overhead
    data, model = load_attacked_model(run_dir, cfg, opts.weights)
    x, y = client_batch(data, opts, cfg.run.seed)
    return opts, reconstruct(model, x, y, opts), data


@ATTACK_KINDS.register("inversion")
def run_inversion(run_dir: Path, options: dict[str, Any]) -> dict[str, Any]:
    """One gradient-inversion attack on the run in `run_dir`; results are also written."""
    opts, result, _ = invert(run_dir, options)
    out = run_dir / "attacks" / FOLDER
    out.mkdir(parents=True, exist_ok=True)
    title = (f"{opts.method.upper()}: batch {opts.batch_size}, {opts.local_steps} step(s), "
             f"{dp_label(opts)} | PSNR {result['psnr']:.1f} dB, "
             f"SSIM {result['ssim']:.3f}")
    plot_reconstructions(result["original"], result["recon"], out / "reconstructions.png", title)
    summary = {k: v for k, v in result.items() if k not in ("recon", "original")}
    results = {"kind": "inversion", "setting": _setting(opts), **summary,
               "plot": "reconstructions.png", "headline": title}
    write_json(out / "results.json", _finite(results))
    return results


def _finite(value: Any) -> Any:
    """JSON-safe: infinite PSNR (perfect reconstruction) written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
