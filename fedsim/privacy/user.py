"""User-level DP (DP-FedAvg): Flower's DP strategy wrappers, accounted with Opacus.

Each round the server averages the sampled clients' updates, each clipped to norm C (on the
server, or by the client's clipping mod), unweighted, and adds N(0, (z C / m)^2) noise,
m = clients per round. One round is one subsampled Gaussian mechanism over clients with
sampling rate q = m / num_clients and noise multiplier z, so R rounds are the history
[(z, q, R)] for Opacus' accountants only under Poisson sampling of clients, the usual
approximation of DP-FedAvg papers; Flower samples exactly m clients without replacement, so
fedsim reports and budgets the bound proven for that (`user_epsilon`: z / 2 per round, no
sampling amplification) and shows the approximation beside it. With adaptive clipping the update
noise is raised so that update and clipped-count queries together spend what z alone would
(Andrew et al. 2021), so the accounting is the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from flwr.serverapp.strategy import (
    DifferentialPrivacyClientSideAdaptiveClipping,
    DifferentialPrivacyClientSideFixedClipping,
    DifferentialPrivacyServerSideAdaptiveClipping,
    DifferentialPrivacyServerSideFixedClipping,
    Strategy,
)

from fedsim.config import Config
from fedsim.privacy.accounting import epsilon, epsilon_budget, noise_for_budget
from fedsim.privacy.adaptive_fix import AdaptiveClippingFix

# Strategies whose aggregate is the plain mean the Flower wrappers' noise is calibrated to.
MEAN_STRATEGIES = ("fedavg", "fedsgd", "fedprox")


@dataclass(frozen=True)
class UserLevelPlan:
    """Noise, sampling rate and how many rounds fit the budget."""

    noise_multiplier: float
    sample_rate: float
    clients_per_round: int
    rounds: int  # rounds to run: run.rounds, or fewer when the budget ends training first
    budget: float


def clients_per_round(cfg: Config) -> int:
    """m: the clients sampled each round."""
    return cfg.strategy.clients_per_round or cfg.data.num_clients


def user_epsilon(cfg: Config, noise: float, rounds: int) -> float:
    """Epsilon proven for what Flower runs after `rounds` rounds: exactly m clients sampled
    without replacement and the mean of their m replies noised with std z C / m.
    Neighbouring federations differ in one client's data (m is fixed), which moves the mean
    by up to 2 C / m: a Gaussian mechanism with noise multiplier z / 2 per round, and no
    amplification by sampling is claimed (valid for any sampling, loose). With adaptive
    clipping the update and clipped-count queries together are the same z / 2 Gaussian (the
    count's replace-one sensitivity is 1). This is the epsilon fedsim reports and budgets."""
    p = cfg.privacy
    return epsilon([(noise / 2, 1.0, rounds)], p.delta, p.accountant)


def user_epsilon_poisson(cfg: Config, noise: float, rate: float, rounds: int) -> float:
    """The DP-FedAvg papers' approximation, for comparison only: Opacus' analysis of the
    Poisson-subsampled Gaussian at rate q = m / num_clients (Flower does not sample so)."""
    p = cfg.privacy
    return epsilon([(noise, rate, rounds)], p.delta, p.accountant)


def affordable_rounds(cfg: Config, noise: float, rate: float, budget: float) -> int:
    """The most rounds (at most run.rounds) whose epsilon stays within `budget`."""
    lo, hi = 0, cfg.run.rounds
    while lo < hi:  # epsilon grows with rounds: binary search
        mid = (lo + hi + 1) // 2
        if user_epsilon(cfg, noise, mid) <= budget * (1 + 1e-6):
            lo = mid
        else:
            hi = mid - 1
    return lo


def user_level_plan(cfg: Config) -> UserLevelPlan:
    """The plan of ``privacy.mode = "user"``: noise given or solved for run.rounds."""
    p, m = cfg.privacy, clients_per_round(cfg)
    rate = m / cfg.data.num_clients
    noise = p.noise_multiplier
    if p.target_epsilon > 0:  # the z / 2 Gaussian of user_epsilon, every round, no sampling
        noise = 2 * noise_for_budget(p.target_epsilon, p.delta, 1.0, cfg.run.rounds, p.accountant)
    budget = epsilon_budget(p.target_epsilon, p.epsilon_budget)
    return UserLevelPlan(noise, rate, m, affordable_rounds(cfg, noise, rate, budget), budget)


def adaptive_stddev(cfg: Config) -> float:
    """Noise std of the clipped-update count (Flower's default m / 20 when 0)."""
    return cfg.privacy.clipped_count_stddev or clients_per_round(cfg) / 20


def wrap_user_level(strategy: Strategy, cfg: Config, plan: UserLevelPlan) -> Strategy:
    """`strategy` inside the Flower DP wrapper that ``privacy.clipping_side`` and
    ``privacy.adaptive_clipping`` select."""
    p = cfg.privacy
    client = p.clipping_side == "client"
    if p.adaptive_clipping:
        kind = (DifferentialPrivacyClientSideAdaptiveClipping if client
                else DifferentialPrivacyServerSideAdaptiveClipping)
        return AdaptiveClippingFix(kind(
            strategy, plan.noise_multiplier, plan.clients_per_round,
            initial_clipping_norm=p.max_grad_norm,
            target_clipped_quantile=p.target_clipped_quantile, clip_norm_lr=p.clip_norm_lr,
            clipped_count_stddev=adaptive_stddev(cfg)))
    kind = (DifferentialPrivacyClientSideFixedClipping if client
            else DifferentialPrivacyServerSideFixedClipping)
    return kind(strategy, plan.noise_multiplier, p.max_grad_norm, plan.clients_per_round)


def mechanism_name(cfg: Config) -> str:
    """The Flower wrapper's name, for summary and report."""
    p = cfg.privacy
    side = "client" if p.clipping_side == "client" else "server"
    clip = "adaptive" if p.adaptive_clipping else "fixed"
    return f"DP-FedAvg: Flower DifferentialPrivacy{side.title()}Side{clip.title()}Clipping"
