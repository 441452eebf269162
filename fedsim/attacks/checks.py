"""Config checks of the malicious-client keys ([attack] behaviour and its options)."""

from __future__ import annotations

from fedsim.attacks.malicious import num_malicious
from fedsim.attacks.poisoning import DATA_BEHAVIOURS
from fedsim.config import Config
from fedsim.data import FederatedData
from fedsim.errors import ConfigError, IncompatibleOptionsError

IMAGE_TASKS = ("classify",)


def check_malicious(cfg: Config) -> None:
    """A behaviour goes with at least one malicious client, and data attacks with images."""
    a, n = cfg.attack, cfg.data.num_clients
    if a.behaviour == "none":
        if a.malicious_fraction > 0:
            raise ConfigError(
                "attack.behaviour", "malicious_fraction > 0 needs a behaviour; allowed: "
                "sign_flip, gaussian_noise, scaling, label_flip, backdoor, free_rider")
        return
    if num_malicious(a.malicious_fraction, n) == 0:
        raise ConfigError(
            "attack.malicious_fraction",
            f"{a.malicious_fraction} x {n} clients rounds to 0 malicious clients; allowed: "
            f">= {0.5 / n:g} (or behaviour = 'none')")
    if a.behaviour in DATA_BEHAVIOURS and cfg.task.name not in IMAGE_TASKS:
        raise IncompatibleOptionsError(
            "attack.behaviour", f"{a.behaviour} poisons labelled images: only task.name = "
            f"'classify' supports it, got {cfg.task.name!r}; allowed here: sign_flip, "
            "gaussian_noise, scaling, free_rider")


def check_malicious_data(cfg: Config, data: FederatedData) -> None:
    """Backdoor keys that depend on the data set (classes, image size)."""
    a = cfg.attack
    if a.behaviour != "backdoor":
        return
    if a.target_label >= data.num_classes:
        raise ConfigError(
            "attack.target_label",
            f"{a.target_label} is not a class of {data.name}; allowed: 0 to {data.num_classes - 1}")
    side = min(data.image_shape[1:])
    if a.trigger_size > side:
        raise ConfigError(
            "attack.trigger_size", f"{a.trigger_size} px is larger than the {side} px images; "
            f"allowed: 1 to {side}")
