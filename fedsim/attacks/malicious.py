"""Which clients are malicious, and what they do to the update they send back.

Update-level behaviours rewrite the reply's weights w relative to the received global
weights g (the honest update is u = w - g):

- sign_flip:      g - strength * u
- gaussian_noise: w + N(0, strength^2) per weight
- scaling:        g + scale_factor * u        (model replacement of an honest update)
- backdoor:       g + backdoor_boost * u      (u was trained on poisoned data)
- free_rider:     g                           (contributes nothing)
- label_flip:     w unchanged                 (the harm is in the data, `poisoning`)

The math is pure functions over numpy arrays; `malicious_mod` is the Flower client mod
that applies it to malicious clients' train replies (fedsim.engine.client_mods).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from flwr.app import Array, ArrayRecord, Context, Message, MessageType
from flwr.clientapp.typing import ClientAppCallable, Mod

from fedsim.config import AttackSection, Config
from fedsim.engine.seeding import stream_seed

SELECTION_STREAM = 7_000_001  # keys of the attack's own random streams
NOISE_STREAM = 7_000_002
COLLUSION_STREAM = 7_000_003  # the one stream colluders share (as if a partition id)


def num_malicious(fraction: float, num_clients: int) -> int:
    """round(fraction x num_clients), the number of malicious clients."""
    return int(round(fraction * num_clients))


@lru_cache(maxsize=32)
def malicious_clients(seed: int, fraction: float, num_clients: int) -> tuple[int, ...]:
    """The malicious partition ids (sorted): a seeded choice, the same on every backend."""
    rng = np.random.default_rng(stream_seed(seed, SELECTION_STREAM))
    chosen = rng.choice(num_clients, size=num_malicious(fraction, num_clients), replace=False)
    return tuple(sorted(int(i) for i in chosen))


def malicious_set(cfg: Config) -> tuple[int, ...]:
    """The malicious partition ids of the run `cfg` (empty when no attack is configured)."""
    if cfg.attack.behaviour == "none":
        return ()
    return malicious_clients(cfg.run.seed, cfg.attack.malicious_fraction, cfg.data.num_clients)


def attack_stream(cfg: Config, partition_id: int) -> int:
    """The stream id a malicious client draws from: its own, or the colluders' shared one."""
    return COLLUSION_STREAM if cfg.attack.collusion else partition_id


def malicious_update(
    behaviour: AttackSection,
    sent: list[np.ndarray],
    trained: list[np.ndarray],
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """The weights a malicious client sends, given the global weights `sent` to it and the
    weights it `trained`. Non-float arrays are returned as trained."""
    out = []
    for g, w in zip(sent, trained, strict=True):
        if not np.issubdtype(w.dtype, np.floating):
            out.append(w)
            continue
        out.append(np.asarray(_rewrite(behaviour, g, w, rng), dtype=w.dtype))
    return out


def _rewrite(a: AttackSection, g: np.ndarray, w: np.ndarray, rng: np.random.Generator):
    kind = a.behaviour
    if kind == "sign_flip":
        return g - a.strength * (w - g)
    if kind == "gaussian_noise":
        return w + rng.normal(0.0, a.strength, size=w.shape)
    if kind == "scaling":
        return g + a.scale_factor * (w - g)
    if kind == "backdoor":
        return g + a.backdoor_boost * (w - g)
    if kind == "free_rider":
        return g.copy()
    return w


def _apply(cfg: Config, msg: Message, reply: Message, partition_id: int) -> None:
    """Rewrite `reply`'s arrays in place as the malicious behaviour says."""
    sent = msg.content["arrays"]
    trained = reply.content["arrays"]
    keys = list(trained.keys())
    server_round = int(msg.content["config"]["server-round"])
    rng = np.random.default_rng(
        stream_seed(cfg.run.seed, NOISE_STREAM, server_round, attack_stream(cfg, partition_id))
    )
    new = malicious_update(
        cfg.attack, sent.to_numpy_ndarrays(), trained.to_numpy_ndarrays(), rng
    )
    reply.content["arrays"] = ArrayRecord(
        {k: Array(np.ascontiguousarray(v)) for k, v in zip(keys, new, strict=True)}
    )


def malicious_mod(cfg: Config) -> Mod:
    """A client mod that makes the run's malicious clients misbehave in training rounds."""
    bad = frozenset(malicious_set(cfg))

    def mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
        reply = call_next(msg, context)
        pid = int(context.node_config["partition-id"])
        train = msg.metadata.message_type == MessageType.TRAIN
        if train and pid in bad and not reply.has_error():
            _apply(cfg, msg, reply, pid)
        return reply

    return mod
