"""Flower's Byzantine-robust aggregators (FedMedian, FedTrimmedAvg, Krum, MultiKrum, Bulyan)
registered as fedsim strategies, and update-norm clipping as a wrapper around any strategy.

Nothing is re-implemented: the factories only translate config keys. Clipping is Flower's
`DifferentialPrivacyServerSideFixedClipping` with noise multiplier 0: it clips each reply's
update (reply - global) to `strategy.clip_norm` in L2 norm before the wrapped strategy
aggregates, then adds N(0, 0) noise (a no-op that draws from numpy's global RNG).
"""

from __future__ import annotations

from typing import Any

from flwr.serverapp.strategy import (
    Bulyan,
    DifferentialPrivacyServerSideFixedClipping,
    FedMedian,
    FedTrimmedAvg,
    Krum,
    MultiKrum,
    Strategy,
)

from fedsim.config import Config
from fedsim.engine.strategies import STRATEGIES
from fedsim.errors import IncompatibleOptionsError

KRUM_FAMILY = ("krum", "multikrum", "bulyan")
ROBUST = ("fedmedian", "fedtrimmedavg", *KRUM_FAMILY)


@STRATEGIES.register("fedmedian")
def _fedmedian(cfg: Config, common: dict[str, Any]) -> Strategy:
    return FedMedian(**common)


@STRATEGIES.register("fedtrimmedavg")
def _fedtrimmedavg(cfg: Config, common: dict[str, Any]) -> Strategy:
    return FedTrimmedAvg(beta=cfg.strategy.trim_beta, **common)


@STRATEGIES.register("krum")
def _krum(cfg: Config, common: dict[str, Any]) -> Strategy:
    return Krum(num_malicious_nodes=cfg.strategy.num_malicious, **common)


@STRATEGIES.register("multikrum")
def _multikrum(cfg: Config, common: dict[str, Any]) -> Strategy:
    f = cfg.strategy.num_malicious
    selected = cfg.strategy.num_krum_selected or clients_per_round(cfg) - f
    return MultiKrum(num_malicious_nodes=f, num_nodes_to_select=selected, **common)


@STRATEGIES.register("bulyan")
def _bulyan(cfg: Config, common: dict[str, Any]) -> Strategy:
    return Bulyan(num_malicious_nodes=cfg.strategy.num_malicious, **common)


def clients_per_round(cfg: Config) -> int:
    """n: the number of updates a robust aggregator sees each round."""
    return cfg.strategy.clients_per_round or cfg.data.num_clients


def with_update_clipping(cfg: Config, strategy: Strategy) -> Strategy:
    """`strategy` with every client update clipped to `strategy.clip_norm` (0 = unchanged)."""
    if cfg.strategy.clip_norm <= 0:
        return strategy
    return DifferentialPrivacyServerSideFixedClipping(
        strategy,
        noise_multiplier=0.0,
        clipping_norm=cfg.strategy.clip_norm,
        num_sampled_clients=clients_per_round(cfg),
    )


def _least_clients(name: str, f: int) -> int:
    """Smallest n the aggregator `name` accepts with f malicious clients."""
    return 4 * f + 3 if name == "bulyan" else 2 * f + 3


def check_robust_strategy(cfg: Config) -> None:
    """Refuse robust-aggregation settings that Flower would run wrongly or not at all."""
    s, n = cfg.strategy, clients_per_round(cfg)
    if s.name in KRUM_FAMILY and n < _least_clients(s.name, s.num_malicious):
        rule = "n >= 4f + 3" if s.name == "bulyan" else "n > 2f + 2"
        raise IncompatibleOptionsError(
            "strategy.num_malicious",
            f"{s.name} needs {rule} clients per round; got n = {n}, f = {s.num_malicious}; "
            f"allowed f: 0 to {max((n - 3) // (4 if s.name == 'bulyan' else 2), -1)} "
            "(or sample more clients)",
        )
    if s.name == "multikrum" and s.num_krum_selected > n:
        raise IncompatibleOptionsError(
            "strategy.num_krum_selected",
            f"{s.num_krum_selected} is more than the {n} clients per round; allowed: 0 to {n}",
        )
    if s.clip_norm > 0 and cfg.privacy.mode == "user":
        raise IncompatibleOptionsError(
            "strategy.clip_norm",
            "user-level DP already clips every update to privacy.max_grad_norm (and adds "
            "noise calibrated to it); a second clip would break the noise calibration; "
            "set strategy.clip_norm = 0",
        )
    if (s.clip_norm > 0 or s.name in ROBUST) and cfg.secagg.enabled:
        raise IncompatibleOptionsError(
            "secagg.enabled",
            "under SecAgg+ the server sees only the sum of updates, so robust aggregators and "
            "update clipping cannot run; use strategy.name = 'fedavg' and clip_norm = 0",
        )
