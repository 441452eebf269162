"""Config checks of the membership-inference keys of [attack] (run before anything runs)."""

from __future__ import annotations

from fedsim.config import Config
from fedsim.errors import ConfigError, IncompatibleOptionsError


def check_mia(cfg: Config) -> None:
    """Target client and round exist; LiRA has a population to draw shadow splits from."""
    a = cfg.attack
    if a.target_client >= cfg.data.num_clients:
        raise ConfigError("attack.target_client", f"{a.target_client} is not a partition id; "
                          f"allowed: 0 to {cfg.data.num_clients - 1}")
    if a.target_round > cfg.run.rounds:
        raise ConfigError("attack.target_round", f"{a.target_round} is after the last round; "
                          f"allowed: 0 (the last) to {cfg.run.rounds}")
    if a.shadow_models and not cfg.data.train_examples:
        raise IncompatibleOptionsError(
            "attack.shadow_models", "LiRA's reference federations train on halves of the "
            "population (the first 2 x data.train_examples training examples); set "
            "data.train_examples > 0, or attack.shadow_models = 0 (loss attack only)")
    if a.shadow_models and a.mia_target == "client":
        raise IncompatibleOptionsError(
            "attack.shadow_models", "LiRA attacks the global model; the client-update attack "
            "scores the captured update alone; allowed with mia_target = 'client': 0")
