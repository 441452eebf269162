"""`fedsim attack RUN_DIR --kind inversion-sweep`: how reconstruction quality falls with the
batch size, the number of local steps and DP-SGD noise. Each axis is varied alone from the
base setting (batch 1, one step, no DP); the noise axis runs DP-SGD (per-example clipping to
`clip`, then noise), its 0 being clipping alone. Writes RUN_DIR/attacks/inversion-sweep/
(results.json, table.md, sweep.png: first image of each setting next to its original).

Options: those of `--kind inversion` (the base setting) plus batch_sizes, steps_list and
noise_list (TOML arrays, e.g. batch_sizes=[1,2,4,8]).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fedsim.attacks import ATTACK_KINDS
from fedsim.attacks.inversion import _finite, dp_label, invert, parse_inversion_options
from fedsim.attacks.inversion_plot import plot_sweep
from fedsim.errors import ConfigError
from fedsim.tracking.run_dir import write_json, write_text

FOLDER = "inversion-sweep"
AXES = {"batch_sizes": ("batch_size", [1, 2, 4, 8]), "steps_list": ("local_steps", [1, 2, 5]),
        "noise_list": ("noise_multiplier", [0.0, 0.001, 0.01, 0.1])}


def sweep_settings(options: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(base options, one option dict per setting): every axis value, others at the base."""
    base = {k: v for k, v in options.items() if k not in AXES}
    settings: list[dict[str, Any]] = []
    for axis, (key, default) in AXES.items():
        values = options.get(axis, default)
        if not isinstance(values, list) or not values:
            raise ConfigError(axis, f"expected a non-empty TOML array, e.g. {axis}={default}")
        for value in values:
            setting = {**base, key: value}
            if key == "noise_multiplier":  # DP-SGD rows, noise 0 = clipping alone
                setting["dp"] = True
            if all(_resolved(setting) != _resolved(s) for s in settings):
                settings.append(setting)
    return base, settings


def _resolved(options: dict[str, Any]) -> Any:
    return parse_inversion_options(options)


def _label(opts: Any) -> str:
    return f"B={opts.batch_size} K={opts.local_steps}\n{dp_label(opts)}"


@ATTACK_KINDS.register("inversion-sweep")
def run_inversion_sweep(run_dir: Path, options: dict[str, Any]) -> dict[str, Any]:
    """Attack every setting of the sweep; write the table, the figure and the results."""
    _, settings = sweep_settings(options)
    rows, pairs = [], []
    for setting in settings:
        start = time.perf_counter()
        opts, result, _ = invert(run_dir, setting)
        rows.append({"batch_size": opts.batch_size, "local_steps": opts.local_steps,
                     "noise_multiplier": opts.noise_multiplier, "method": opts.method,
                     "dp": dp_label(opts),
                     "psnr": result["psnr"], "ssim": result["ssim"],
                     "labels_correct": result["labels_correct"],
                     "seconds": time.perf_counter() - start})
        pairs.append((result["original"][0], result["recon"][0], _label(opts)))
    out = run_dir / "attacks" / FOLDER
    out.mkdir(parents=True, exist_ok=True)
    plot_sweep(pairs, out / "sweep.png")
    write_text(out / "table.md", "\n".join(sweep_table(rows)) + "\n")
    best = max(rows, key=lambda r: r["psnr"])
    headline = (f"inversion sweep ({rows[0]['method']}): {len(rows)} settings, best PSNR "
                f"{best['psnr']:.1f} dB at {best['batch_size']} image(s)")
    results = {"kind": "inversion-sweep", "rows": rows, "plot": "sweep.png",
               "table": "table.md", "headline": headline}
    write_json(out / "results.json", _finite(results))
    return results


def sweep_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown table of the sweep rows."""
    lines = ["| method | batch | local steps | DP-SGD | PSNR (dB) | SSIM | labels right |",
             "|:---|---:|---:|:---|---:|---:|:---|"]
    for r in rows:
        right = "yes" if r["labels_correct"] else "no"
        lines.append(f"| {r['method']} | {r['batch_size']} | {r['local_steps']} | {r['dp']} | "
                     f"{r['psnr']:.2f} | {r['ssim']:.3f} | {right} |")
    return lines
