"""Flower client mods chosen by the run's config (DP clipping, SecAgg+ masking, malicious
behaviour), applied by one mod that the ClientApp always carries.

The ClientApp object is built at import, before any config is known, so it cannot list
config-dependent mods itself; `config_mods` reads the config from the node's context and
wraps the handlers in `mods_for(cfg)` on every message.

Order matters: the first mod sees the message first and the reply last. Malicious behaviour
sits next to the handler (it changes what was trained), DP clipping around it (a clipped
update is what leaves the client), SecAgg+ outermost (it masks what clipping produced).
"""

from __future__ import annotations

from flwr.app import Context, Message
from flwr.client.mod.utils import make_ffn
from flwr.clientapp.typing import ClientAppCallable, Mod

from fedsim.config import Config
from fedsim.engine.app_config import config_from_context


def secagg_mods(cfg: Config) -> list[Mod]:
    """SecAgg+ masking mods (outermost): Flower's legacy secaggplus_mod, user-level DP's
    legacy fixedclipping_mod (clip before masking), and the bridge from legacy messages to
    fedsim's handlers (fedsim.engine.legacy_bridge)."""
    if not cfg.secagg.enabled:
        return []
    from flwr.client.mod import fixedclipping_mod, secaggplus_mod

    from fedsim.engine.legacy_bridge import expose_metrics_mod, legacy_bridge_mod

    clipping = [fixedclipping_mod] if cfg.privacy.mode == "user" else []
    return [secaggplus_mod, expose_metrics_mod, *clipping, legacy_bridge_mod]


def privacy_mods(cfg: Config) -> list[Mod]:
    """Differential privacy mods (fedsim.privacy.client_mods): DP-SGD for record-level DP;
    unit weights and client-side clipping for user-level DP (under SecAgg+ the clipping is
    the legacy mod in `secagg_mods`)."""
    from fedsim.privacy.client_mods import privacy_client_mods

    return privacy_client_mods(cfg)


def attack_mods(cfg: Config) -> list[Mod]:
    """Malicious-client behaviour mods (innermost); data poisoning happens in handle_train."""
    if cfg.attack.behaviour == "none":
        return []
    from fedsim.attacks.malicious import malicious_mod

    return [malicious_mod(cfg)]


def fault_mods(cfg: Config) -> list[Mod]:
    """Fault injection ([faults]: crashes, stragglers, broken updates), innermost of all."""
    from fedsim.engine.faults import fault_mods as injected

    return injected(cfg)


def mods_for(cfg: Config) -> list[Mod]:
    """Every config-dependent mod, outermost first."""
    return [*secagg_mods(cfg), *privacy_mods(cfg), *attack_mods(cfg), *fault_mods(cfg)]


def config_mods(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """The one mod the ClientApp carries: runs `call_next` inside the config's mods."""
    mods = mods_for(config_from_context(context))
    return make_ffn(call_next, mods)(msg, context) if mods else call_next(msg, context)
