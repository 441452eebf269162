"""What SecAgg+ allows and what it costs in precision: pure rules over the config.

Under SecAgg+ the server receives only masked, quantized vectors and unmasks nothing but
their sum. Anything that needs one client's update in the clear (robust aggregators,
server-side clipping, update norm checks, attacks that read a client's update) cannot run,
so `check_secagg` refuses those combinations with the reason. Other validators ask
`secagg_hides_updates(cfg)` before they offer per-client inspection.
"""

from __future__ import annotations

from fedsim.config import Config
from fedsim.errors import ConfigError, IncompatibleOptionsError

# Strategies whose aggregate is a function of the weighted mean of the client models only,
# so the server needs nothing but the SecAgg+ sum (tested against the plain path).
SECAGG_STRATEGIES = ("fedavg", "fedsgd", "fedprox", "fedavgm", "fedadam", "fedyogi")
MODULUS_RANGE = 2**32  # Flower's default and maximum mask range
MIN_CLIENTS = 3  # SecAgg+ needs num_shares >= 3 neighbours (itself included)

HIDDEN = (
    "SecAgg+ (secagg.enabled = true) gives the server only the sum of the client updates"
)


def secagg_hides_updates(cfg: Config) -> bool:
    """True when the server cannot see any single client's update (SecAgg+ is on)."""
    return cfg.secagg.enabled


def sampled_clients(cfg: Config) -> int:
    """Clients sampled per training round."""
    return cfg.strategy.clients_per_round or cfg.data.num_clients


def _check_strategy(cfg: Config) -> None:
    if cfg.strategy.name not in SECAGG_STRATEGIES:
        raise IncompatibleOptionsError(
            "strategy.name",
            f"{HIDDEN}, but {cfg.strategy.name!r} needs each client's update (robust or "
            f"per-client aggregation); allowed with secagg: {', '.join(SECAGG_STRATEGIES)}")


def _check_server_inspection(cfg: Config) -> None:
    """Server-side clipping and update norm bounds (a membership-inference attack on one
    client's update stays allowed: it is run on the masked vector the server receives)."""
    user = cfg.privacy.mode == "user"
    refused = {
        "strategy.clip_norm": (cfg.strategy.clip_norm > 0,
                               "clipping each update on the server needs its norm; use "
                               "privacy.mode = 'user' (clipped on the client, before masking)"
                               " or strategy.clip_norm = 0"),
        "strategy.max_update_norm": (cfg.strategy.max_update_norm > 0,
                                     "bounding each update's norm on the server needs the "
                                     "update; use strategy.max_update_norm = 0"),
        "privacy.clipping_side": (
            user and cfg.privacy.clipping_side == "server",
            "user-level DP with server-side clipping clips each update on the server; use "
            "privacy.clipping_side = 'client' (clipped before masking)"),
        "privacy.adaptive_clipping": (
            user and cfg.privacy.adaptive_clipping,
            "adaptive clipping sends each client's clipped/not-clipped bit in the clear and "
            "is not wired on SecAgg+'s legacy path; use fixed clipping (false)"),
        "privacy.epsilon_budget": (
            user and cfg.privacy.epsilon_budget > 0,
            "stopping at a budget is not wired on SecAgg+'s legacy path; set "
            "privacy.target_epsilon (noise solved for all rounds) and epsilon_budget = 0"),
    }
    if cfg.privacy.mode == "record":
        raise IncompatibleOptionsError(
            "privacy.mode", "record-level DP is accounted on the Message-API path, and SecAgg+ "
            "runs on Flower's legacy path; allowed with secagg: none, user (client-side "
            "clipping before masking)")
    for key, (bad, why) in refused.items():
        if bad:
            raise IncompatibleOptionsError(key, f"{HIDDEN}: {why}")


def _check_protocol(cfg: Config) -> None:
    """Shares, threshold and quantization ranges Flower's SecAgg+ can run with."""
    s, clients = cfg.secagg, sampled_clients(cfg)
    if clients < MIN_CLIENTS:
        raise IncompatibleOptionsError(
            "strategy.clients_per_round", f"SecAgg+ needs at least {MIN_CLIENTS} clients per "
            f"round, got {clients}; allowed: {MIN_CLIENTS} to {cfg.data.num_clients}")
    if s.num_shares % 2 == 0 or not MIN_CLIENTS <= s.num_shares <= clients:
        raise ConfigError(
            "secagg.num_shares", f"{s.num_shares} is not allowed: each client shares its "
            "secrets with itself and an equal number of neighbours on either side, so the "
            f"count must be odd (an even one fails inside Flower); allowed: odd values from "
            f"{MIN_CLIENTS} to the {clients} clients per round")
    if not 2 <= s.reconstruction_threshold < s.num_shares:
        raise ConfigError(
            "secagg.reconstruction_threshold", f"{s.reconstruction_threshold} is not allowed: "
            "a secret needs at least 2 shares to stay secret and must be recoverable from "
            f"fewer than all {s.num_shares} (secagg.num_shares); allowed: 2 to "
            f"{s.num_shares - 1}")
    if clients * s.quantization_range >= MODULUS_RANGE:
        raise ConfigError(
            "secagg.quantization_range", f"{clients} clients x {s.quantization_range} would "
            f"overflow the 2^32 mask range; allowed: below {MODULUS_RANGE // clients}")


def check_secagg(cfg: Config) -> None:
    """Refuse (exit 2, with the reason) what SecAgg+ cannot run; nothing when it is off."""
    if not cfg.secagg.enabled:
        return
    _check_strategy(cfg)
    _check_server_inspection(cfg)
    _check_protocol(cfg)


def check_secagg_weight(cfg: Config, partition_sizes: list[int]) -> None:
    """Refuse a `secagg.max_weight` below the largest shard: SecAgg+ scales a client's
    weights by n / W before clipping them to [-c, c], so n > W would clip silently."""
    weight, largest = cfg.secagg.max_weight, max(partition_sizes)
    if cfg.secagg.enabled and cfg.privacy.mode != "user" and 0 < weight < largest:
        raise ConfigError(
            "secagg.max_weight", f"{weight:g} is below the largest client shard ({largest} "
            "examples): SecAgg+ scales each model by its example count / max_weight before "
            f"clipping to +-secagg.clipping_range; allowed: 0 (auto) or >= {largest}")


def quantization_error_bound(
    clipping_range: float, quantization_range: int, max_weight: float, weights: list[float]
) -> float:
    """Largest possible |SecAgg+ mean - exact weighted mean| of any one parameter.

    Client i sends its weights x_i scaled by r_i = q_i / Q, with q_i = round(n_i Q / W)
    (Q quantization_range, W max_weight, n_i its example count), shifted by c, and
    stochastically rounded on a grid of step 2c/Q (error < 1 step). The server divides the
    sum by sum(r_i). So m clients' rounding moves the mean by < 2c m / sum(q_i), and the
    rounded weights (|q_i - n_i Q / W| <= 1/2) move it by at most c m / sum(q_i):
    bound = 3 c m / sum(q_i). Valid while n_i <= W and every |x_i| <= c (nothing clipped).
    """
    total = sum(round(n * quantization_range / max_weight) for n in weights)
    return 3 * clipping_range * len(weights) / total
