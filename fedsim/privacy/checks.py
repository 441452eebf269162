"""Which privacy settings make sense, checked before a run (refusals explain why), and the
warnings a run records (delta too large for the data)."""

from __future__ import annotations

from typing import Any

from fedsim.config import Config
from fedsim.errors import ConfigError, IncompatibleOptionsError
from fedsim.losses import is_decomposable
from fedsim.privacy.user import MEAN_STRATEGIES, adaptive_stddev, user_level_plan
from fedsim.samplers import miner_couples

USER_HINT = "Use privacy.mode = 'user' (clips each client's whole update, which bounds any loss)"
# Tasks whose batch loss is a mean of per-example terms over Poisson batches (local_sgd).
RECORD_TASKS = ("classify", "nextword", "diffusion")


def _coupling_reason(cfg: Config) -> str | None:
    """Why one example's gradient depends on other examples of its batch, if it does."""
    t = cfg.task
    if t.miner != "none" and miner_couples(t.miner):
        return (f"task.miner = {t.miner!r} picks each triplet from the other examples of the "
                "batch, so removing one example changes other examples' gradients")
    if t.loss != "cross_entropy" and not is_decomposable(t.loss):
        return (f"task.loss = {t.loss!r} compares each example with the other examples of its "
                "batch (in-batch negatives), so one example's term reads others")
    if t.name in ("metric", "toy-triplet"):
        return (f"task {t.name!r} builds its pairs / negatives from the other examples of each "
                "P x K batch, so one example's gradient depends on others")
    return None


def _check_record(cfg: Config) -> None:
    reason = _coupling_reason(cfg)
    if reason:
        raise IncompatibleOptionsError(
            "privacy.mode", f"record-level DP clips per-example gradients, which bounds one "
            f"example's influence only for per-example losses; {reason}. {USER_HINT}")
    if cfg.task.name not in RECORD_TASKS:
        raise IncompatibleOptionsError(
            "privacy.mode", f"record-level DP supports tasks {', '.join(RECORD_TASKS)}; "
            f"{cfg.task.name!r} does not train on per-example losses. {USER_HINT}")
    if cfg.faults.kill_worker_round:
        raise IncompatibleOptionsError(
            "faults.kill_worker_round", "the killed Ray worker's nodes restart with an empty "
            "Context.state, so their record-level DP accountants would start again from zero "
            "and their budget checks would miss the rounds they already trained; allowed "
            "with privacy.mode = 'record': 0")
    if cfg.task.model == "lstm":
        raise IncompatibleOptionsError(
            "task.model", "record-level DP needs per-example gradients; nn.LSTM has none and "
            "Opacus' DPLSTM replacement has aliased weights that cannot be saved; use "
            f"task.model = 'gpt2', or {USER_HINT}")


def _check_user(cfg: Config) -> None:
    if cfg.strategy.name not in MEAN_STRATEGIES:
        raise IncompatibleOptionsError(
            "strategy.name", f"user-level DP adds noise calibrated to the plain mean of clipped "
            f"updates; {cfg.strategy.name!r} aggregates otherwise, so the noise would not cover "
            f"one client; allowed: {', '.join(MEAN_STRATEGIES)}")
    p = cfg.privacy
    noise = user_level_plan(cfg).noise_multiplier
    if p.adaptive_clipping and noise >= 2 * adaptive_stddev(cfg):
        raise IncompatibleOptionsError(
            "privacy.clipped_count_stddev", f"adaptive clipping spends part of the noise on the "
            f"clipped-update count; noise_multiplier {noise:.4g} needs clipped_count_stddev > "
            f"{noise / 2:.4g} (now {adaptive_stddev(cfg):.4g}; default clients per round / 20)")
    if user_level_plan(cfg).rounds == 0:
        raise ConfigError("privacy.epsilon_budget", "the budget does not cover even one round "
                          "at this noise; raise the budget or the noise")


def check_privacy(cfg: Config) -> None:
    """IncompatibleOptionsError / ConfigError naming the key when DP cannot be set up as
    configured, with the reason and what would work."""
    p = cfg.privacy
    if p.mode == "none":
        return
    if p.target_epsilon <= 0 and p.noise_multiplier <= 0:
        raise ConfigError(
            "privacy.noise_multiplier", "0 adds no noise, so epsilon is infinite (no "
            "guarantee); set noise_multiplier > 0 or target_epsilon > 0, or privacy.mode = 'none'")
    if p.epsilon_budget and p.target_epsilon > p.epsilon_budget:
        raise ConfigError("privacy.epsilon_budget", f"{p.epsilon_budget:g} is below "
                          f"target_epsilon {p.target_epsilon:g}; the plan cannot fit the budget")
    (_check_record if p.mode == "record" else _check_user)(cfg)


def privacy_warnings(cfg: Config, data: Any) -> list[str]:
    """Settings that are allowed but weak: delta >= 1 / (number of protected units)."""
    p = cfg.privacy
    if p.mode == "none":
        return []
    if p.mode == "user":
        units, what = cfg.data.num_clients, "clients"
    else:
        units = max((len(part) for part in data.partitions), default=1)
        what = "examples in the largest shard"
    if p.delta >= 1 / units:
        return [f"privacy.delta = {p.delta:g} >= 1/{units} ({what}): a mechanism may then "
                "reveal one unit outright with probability delta; use delta << 1/" + str(units)]
    return []
