"""Plain-words facts of a run's privacy setting: mechanism, unit, clipping, what is exposed.

Shared by summary.json and the report, so the two never disagree.
"""

from __future__ import annotations

from typing import Any

from fedsim.config import Config
from fedsim.privacy.user import mechanism_name


def _unit(cfg: Config) -> str:
    if cfg.privacy.mode == "user":
        return "client (all of one client's data)"
    if cfg.task.name == "nextword":
        return "example (one training sequence: verse / fortune) of a client's shard"
    return "example of a client's shard"


def _clipping(cfg: Config) -> str:
    p = cfg.privacy
    if p.mode == "record":
        return f"per-example gradient L2 norm <= {p.max_grad_norm:g} (each step)"
    where = "by each client (Flower clipping mod)" if p.clipping_side == "client" else (
        "by the server before averaging")
    if p.adaptive_clipping:
        return (f"client update L2 norm, adaptive from {p.max_grad_norm:g} towards the "
                f"{p.target_clipped_quantile:g} quantile (lr {p.clip_norm_lr:g}), {where}")
    return f"client update L2 norm <= {p.max_grad_norm:g}, {where}"


def not_protected(cfg: Config) -> list[str]:
    """What the guarantee does not cover in this configuration."""
    items = []
    if not cfg.secagg.enabled:
        if cfg.privacy.mode == "user" and cfg.privacy.clipping_side == "server":
            items.append("the server sees every client's update in the clear before it clips "
                         "and noises the average (trusted-server DP)")
        elif cfg.privacy.mode == "user":
            items.append("the server sees every clipped client update in the clear; only the "
                         "published average is noised (trusted-server DP)")
        else:
            items.append("without SecAgg the server sees each client update")
    if cfg.privacy.mode == "record":
        items.append("a client as a whole: the guarantee is per example, and a client's many "
                     "examples together are not protected at this epsilon")
        items.append("the number of examples each client used (sent as the FedAvg weight)")
    elif cfg.privacy.mode == "user" and cfg.secagg.enabled:
        items.append("the exact sum of the clipped client updates: SecAgg+ hides each update, "
                     "but the server unmasks their sum before it adds the DP noise (the server "
                     "is trusted to add it)")
    if cfg.privacy.mode == "user":
        items.append("which clients took part in a round, and their reply sizes")
    if cfg.task.name == "nextword":
        items.append("the tokenizer: its vocabulary (word: the most frequent training words; "
                     "bpe: merges learned from the training text) is built from all clients' "
                     "training text together, outside the DP mechanism")
    if cfg.privacy.mode != "none":
        items.append("client-reported metrics (training loss, federated evaluation) and "
                     "federated evaluation itself: they are not noised or accounted")
        items.append("against anyone who knows run.seed (in config.toml and summary.json): the "
                     "noise is drawn from seeded pseudo-random streams so that runs repeat, and "
                     "the seed regenerates it; the guarantee assumes an adversary without it "
                     "(a simulation, not a deployment)")
    return items


def describe(cfg: Config) -> dict[str, Any]:
    """mechanism, unit, clipping and not_protected for summary.json and the report."""
    p = cfg.privacy
    if p.mode == "none":
        return {"mechanism": "none", "unit": None, "not_protected": [
            "everything: no differential privacy" + (
                "; SecAgg+ hides single updates but the sum is not noised"
                if cfg.secagg.enabled else ", and the server sees each client update")]}
    mechanism = (mechanism_name(cfg) if p.mode == "user" else
                 "DP-SGD (Opacus GradSampleModule hooks + DPOptimizer, Poisson sampling) in "
                 "each client")
    return {"mechanism": mechanism, "unit": _unit(cfg), "clipping": _clipping(cfg),
            "not_protected": not_protected(cfg)}
