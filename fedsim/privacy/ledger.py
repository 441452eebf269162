"""The server's privacy bookkeeping: epsilon per round for metrics.jsonl, the privacy part
of summary.json, and the strategy wrapper of user-level DP.

Record-level: the clients' own accountants report (noise, rate, steps, epsilon) in their
training replies; the ledger keeps each client's history from them and its declines.
User-level: the ledger owns the accountant (one (z, q) step per round) and the number of
rounds that fit the budget.
"""

from __future__ import annotations

import math
from typing import Any

from flwr.serverapp.strategy import Strategy

from fedsim.config import Config
from fedsim.privacy.accounting import Segment, epsilon, merge_segments
from fedsim.privacy.checks import privacy_warnings
from fedsim.privacy.describe import describe
from fedsim.privacy.user import (
    UserLevelPlan,
    user_epsilon,
    user_epsilon_poisson,
    user_level_plan,
    wrap_user_level,
)


class PrivacyLedger:
    """Per-run privacy state on the server."""

    def __init__(self, cfg: Config, data: Any) -> None:
        self.cfg = cfg
        self.mode = cfg.privacy.mode
        self.user: UserLevelPlan | None = user_level_plan(cfg) if self.mode == "user" else None
        self.rounds_to_run = self.user.rounds if self.user else cfg.run.rounds
        self.rounds_done = 0
        self.histories: dict[int, list[Segment]] = {}
        self.client_epsilon: dict[int, float] = {}
        self.declines: list[dict[str, Any]] = []
        self.clipping_norms: list[float] = []
        self.warnings = privacy_warnings(cfg, data)
        self._strategy: Strategy | None = None

    def wrap(self, strategy: Strategy) -> Strategy:
        """`strategy` with user-level DP around it when that mode is on."""
        if self.user is None:
            return strategy
        self._strategy = wrap_user_level(strategy, self.cfg, self.user)
        return self._strategy

    def observe(self, server_round: int, log: Any) -> dict[str, Any]:
        """The round's ``privacy`` fields for metrics.jsonl (empty for round 0 / no DP)."""
        if server_round == 0 or self.mode == "none":
            return {}
        self.rounds_done = server_round
        if self.user is not None:
            return {"privacy": self._user_round(server_round)}
        return {"privacy": self._record_round(log)}

    def _user_round(self, server_round: int) -> dict[str, Any]:
        plan = self.user
        norm = self.clipping_norms[-1] if self.clipping_norms else self.cfg.privacy.max_grad_norm
        self.clipping_norms.append(  # the norm the next round clips to (adaptive clipping)
            float(getattr(self._strategy, "clipping_norm", self.cfg.privacy.max_grad_norm)))
        eps = user_epsilon(self.cfg, plan.noise_multiplier, server_round)
        return {"epsilon": eps, "noise_multiplier": plan.noise_multiplier,
                "sample_rate": plan.sample_rate, "clipping_norm": norm}

    def _record_round(self, log: Any) -> dict[str, Any]:
        round_eps: dict[str, float] = {}
        for entry in log.clients:
            if entry.get("stage") != "train" or "dp_epsilon" not in entry:
                continue
            pid = int(entry["partition_id"])
            segment = (entry["dp_noise_multiplier"], entry["dp_sample_rate"], entry["dp_steps"])
            self.histories[pid] = merge_segments([*self.histories.get(pid, []), segment])
            self.client_epsilon[pid] = round_eps[str(pid)] = self._client_epsilon(pid, entry)
        declined = [d.get("partition_id") for d in getattr(log, "declines", [])]
        self.declines += [{"round": self.rounds_done, "partition_id": p} for p in declined]
        return {"epsilon": round_eps, "declined": declined,
                "epsilon_max": max(self.client_epsilon.values(), default=0.0)}

    def _client_epsilon(self, pid: int, entry: dict[str, Any]) -> float:
        """The client's reported epsilon, unless its accountant has counted fewer steps than
        the server saw it run (its Context.state was lost, e.g. with a replaced Ray worker):
        then epsilon of every step the server received from it, and a warning."""
        reported = float(entry["dp_epsilon"])
        steps = sum(s for _, _, s in self.histories[pid])
        if int(entry.get("dp_total_steps", steps)) >= steps:
            return reported
        p = self.cfg.privacy
        eps = max(reported, epsilon(self.histories[pid], p.delta, p.accountant))
        note = (f"client {pid} lost its privacy accountant (it counted "
                f"{int(entry.get('dp_total_steps', 0))} of the {steps} DP-SGD steps the server "
                f"received from it): its epsilon is recomputed from all {steps} steps, and its "
                "own budget check did not see the earlier ones")
        self.warnings = [w for w in self.warnings if not w.startswith(f"client {pid} lost ")]
        self.warnings.append(note)
        return eps

    def summary(self) -> dict[str, Any]:
        """summary.json's ``privacy``: mode, epsilon, delta, per_client_epsilon_max, and the
        facts needed to recompute epsilon (per_client histories or the user-level plan)."""
        p = self.cfg.privacy
        info: dict[str, Any] = {"mode": self.mode, "epsilon": None, "delta": None,
                                "per_client_epsilon_max": None, **describe(self.cfg)}
        info["warnings"] = self.warnings
        if self.mode == "none":
            return info
        info.update(delta=p.delta, accountant=p.accountant,
                    budget=None if math.isinf(self._budget()) else self._budget())
        if self.user is not None:
            return {**info, **self._user_summary()}
        return {**info, **self._record_summary()}

    def _budget(self) -> float:
        return self.user.budget if self.user else (
            self.cfg.privacy.epsilon_budget or self.cfg.privacy.target_epsilon or math.inf)

    def _user_summary(self) -> dict[str, Any]:
        plan = self.user
        rounds = self.rounds_done
        eps = user_epsilon(self.cfg, plan.noise_multiplier, rounds)
        stopped = rounds < self.cfg.run.rounds
        return {"epsilon": eps, "noise_multiplier": plan.noise_multiplier,
                "epsilon_poisson_approximation": user_epsilon_poisson(
                    self.cfg, plan.noise_multiplier, plan.sample_rate, rounds),
                "sample_rate": plan.sample_rate, "steps": rounds, "rounds_trained": rounds,
                "clients_per_round": plan.clients_per_round,
                "clipping_norms": self.clipping_norms,
                "stopped_early": (f"budget: round {rounds + 1} would pass epsilon "
                                  f"{plan.budget:g}") if stopped else None}

    def _record_summary(self) -> dict[str, Any]:
        per_client = {}
        for pid in sorted(self.histories):
            history = self.histories[pid]
            per_client[str(pid)] = {
                "sample_rate": history[-1][1], "noise_multiplier": history[-1][0],
                "steps": sum(s for _, _, s in history), "epsilon": self.client_epsilon[pid],
                "history": [list(s) for s in history]}
        eps = [c["epsilon"] for c in per_client.values()]
        return {"epsilon": max(eps, default=0.0), "per_client_epsilon_max": max(eps, default=0.0),
                "per_client": per_client, "epsilon_distribution": _distribution(eps),
                "declines": self.declines, "rounds_trained": self.rounds_done}


def _distribution(values: list[float]) -> dict[str, float] | None:
    """min / median / mean / max of the clients' epsilons."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {"min": ordered[0], "median": median, "mean": sum(ordered) / len(ordered),
            "max": ordered[-1], "clients": len(ordered)}
