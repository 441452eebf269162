"""`fedsim attack RUN_DIR --kind mia` (and `[attack] mia = true` inside a run).

Target "global": was x in the federation's training data? The final global model is
scored by the loss attack and, with `attack.shadow_models` > 0, by offline and online LiRA
against reference federations (fedsim.attacks.shadows). Target "client": was x in client
k's data? The update the server captured during the run (fedsim.attacks.capture) is scored
by the loss drop it causes (fedsim.attacks.update_attack).

Every attack's scores give ROC metrics and a DP audit against the run's accounted epsilon.
Results: RUN_DIR/attacks/<mia|mia-client>/results.json and roc.png.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from fedsim.attacks import ATTACK_KINDS
from fedsim.attacks.audit import dp_audit
from fedsim.attacks.capture import CAPTURED
from fedsim.attacks.lira import lira_offline, lira_online
from fedsim.attacks.membership import EvalSet, federation_members, membership_sets
from fedsim.attacks.mia_checks import check_mia
from fedsim.attacks.roc import attack_metrics
from fedsim.attacks.roc_plot import plot_log_roc
from fedsim.attacks.scores import lira_statistics, loss_scores
from fedsim.attacks.shadows import included, load_run_model, shadow_config, train_shadow
from fedsim.attacks.update_attack import loss_drop_scores, masked_as_weights
from fedsim.config import AttackSection, Config, parse_config
from fedsim.errors import FedsimError
from fedsim.tracking.run_dir import write_json
from fedsim.tracking.weights import load_state

MIA_STREAM = 7  # the attack's own random stream next to the run seed
RESULTS, PLOT = "results.json", "roc.png"


def attack_options(cfg: Config, options: dict[str, Any]) -> AttackSection:
    """The run's [attack] section with `options` (attack keys, "attack." optional) applied,
    checked like any config key (ConfigError names the key)."""
    raw = dataclasses.asdict(cfg.attack)
    raw.update({key.removeprefix("attack."): value for key, value in options.items()})
    return parse_config({"attack": raw}).attack


def _privacy(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "summary.json"
    summary = json.loads(path.read_text()) if path.exists() else {}
    return summary.get("privacy") or {"mode": "none", "epsilon": None, "delta": None}


def _global_scores(cfg: Config, data: Any, task: Any, model: Any, evalset: EvalSet,
                   attack: AttackSection, out: Path) -> dict[str, np.ndarray]:
    """Loss attack, plus offline and online LiRA when shadow models are asked for."""
    scores = {"loss": loss_scores(task, model, evalset.data, data.dev)}
    if not attack.shadow_models:
        return scores
    target = lira_statistics(task, model, evalset.data, data.dev)
    stats, inside = [], []
    for split in range(1, attack.shadow_models + 1):
        shadow_dir = train_shadow(shadow_config(cfg, split, out / "shadows"))
        _, s_data, s_task, s_model = load_run_model(shadow_dir)
        stats.append(lira_statistics(s_task, s_model, evalset.data, s_data.dev))
        inside.append(included(s_data, evalset.train_index))
    stats_arr, inside_arr = np.stack(stats), np.stack(inside)
    scores["lira_offline"] = lira_offline(target, stats_arr, inside_arr)
    scores["lira_online"] = lira_online(target, stats_arr, inside_arr)
    return scores


def _received_state(run_dir: Path, before: dict, cfg: Config, order: list[str]) -> dict:
    """The captured reply as weights (SecAgg+ masked vectors read back as a server would);
    `order` is the model's parameter order, the order of the vectors on the wire."""
    meta = json.loads((run_dir / CAPTURED / "meta.json").read_text())
    received = load_state(run_dir / CAPTURED / "received.safetensors")
    if meta["form"] == "weights":
        return received
    vectors = [received[f"received_masked_{i}"].numpy() for i in range(len(received))]
    template = {name: before[name] for name in order}
    return masked_as_weights(vectors, template, cfg.secagg.clipping_range,
                             cfg.secagg.quantization_range)


def _client_scores(run_dir: Path, cfg: Config, data: Any, task: Any, model: Any,
                   evalset: EvalSet) -> dict[str, np.ndarray]:
    if not (run_dir / CAPTURED / "meta.json").exists():
        raise FedsimError(f"{run_dir}: no client update was recorded; rerun with "
                          "attack.mia_target = 'client' (the server captures it during the run)")
    before = load_state(run_dir / CAPTURED / "before.safetensors")
    received = _received_state(run_dir, before, cfg, list(model.state_dict()))
    return {"update_loss_drop": loss_drop_scores(task, model, before, received,
                                                 evalset.data, data.dev)}


def _evalset(cfg: Config, data: Any, attack: AttackSection) -> EvalSet:
    rng = np.random.default_rng([cfg.run.seed, MIA_STREAM])
    pool = (federation_members(data) if attack.mia_target == "global"
            else data.partitions[attack.target_client])
    return membership_sets(data, pool, cfg.data.train_examples, attack.mia_examples, rng)


def _summarise(scores: dict[str, np.ndarray], evalset: EvalSet, privacy: dict,
               attack: AttackSection) -> dict[str, Any]:
    delta = privacy.get("delta") or 1e-5
    per_attack = {}
    for name, values in scores.items():
        metrics: dict[str, Any] = attack_metrics(values, evalset.is_member)
        metrics["audit"] = dp_audit(values, evalset.is_member, privacy.get("epsilon"),
                                    delta).as_dict()
        per_attack[name] = metrics
    return {"kind": "mia", "target": attack.mia_target,
            "target_client": attack.target_client if attack.mia_target == "client" else None,
            "members": int(evalset.is_member.sum()),
            "non_members": int((~evalset.is_member).sum()),
            "non_member_source": evalset.non_member_source,
            "shadow_models": attack.shadow_models if attack.mia_target == "global" else 0,
            "privacy": privacy, "attacks": per_attack, "plot": PLOT}


def mia_folder(run_dir: Path, target: str) -> Path:
    """Where the results of an attack on `target` go."""
    return run_dir / "attacks" / ("mia" if target == "global" else "mia-client")


@ATTACK_KINDS.register("mia")
def run_mia(run_dir: Path, options: dict[str, Any]) -> dict[str, Any]:
    """Attack the finished run in `run_dir`; write and return the results."""
    for name in ("config.toml", "weights.safetensors"):
        if not (run_dir / name).is_file():
            raise FedsimError(f"{run_dir}: not a finished run directory (no {name})")
    cfg, data, task, model = load_run_model(run_dir)
    cfg = dataclasses.replace(cfg, attack=attack_options(cfg, options))
    check_mia(cfg)
    attack = cfg.attack
    out = mia_folder(run_dir, attack.mia_target)
    out.mkdir(parents=True, exist_ok=True)
    evalset = _evalset(cfg, data, attack)
    if attack.mia_target == "global":
        scores = _global_scores(cfg, data, task, model, evalset, attack, out)
    else:
        scores = _client_scores(run_dir, cfg, data, task, model, evalset)
    results = _summarise(scores, evalset, _privacy(run_dir), attack)
    plot_log_roc(scores, evalset.is_member, out / PLOT,
                 f"membership inference on the {attack.mia_target} model ({cfg.task.name})")
    write_json(out / RESULTS, results)
    return results
