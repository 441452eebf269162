"""fedsim's Flower ClientApp: thin handlers over fedsim.engine.client_side.

The same object runs under fedsim's own engine (inline / Ray actors), under Flower's
simulation and under `flwr run .`.
"""

from __future__ import annotations

from functools import lru_cache

from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from fedsim.config import Config, DataSection
from fedsim.data import FederatedData
from fedsim.engine.app_config import config_from_context
from fedsim.engine.client_mods import config_mods
from fedsim.engine.client_side import ClientRuntime, handle_evaluate, handle_train

app = ClientApp(mods=[config_mods])  # config-dependent mods: fedsim.engine.client_mods

_PRIMED: dict[tuple[DataSection, int], FederatedData] = {}
_MAX_PRIMED = 2


def prime(data_section: DataSection, seed: int, data: FederatedData) -> None:
    """Hand this process the run's already-partitioned data (fedsim's Ray executor does, once
    per actor), so that the clients here never load or partition it themselves.

    Under Flower's own runtimes (`run_simulation`, `flwr run`) nothing is primed and each
    process loads its data on the first message, as before.
    """
    _PRIMED.pop((data_section, seed), None)
    _PRIMED[(data_section, seed)] = data
    while len(_PRIMED) > _MAX_PRIMED:
        _PRIMED.pop(next(iter(_PRIMED)))


@lru_cache(maxsize=2)
def _runtime(cfg: Config) -> ClientRuntime:
    """One runtime per config per process: data and model are built once, not per message."""
    return ClientRuntime.build(cfg, _PRIMED.get((cfg.data, cfg.run.seed)))


@app.train()
def train(msg: Message, context: Context) -> Message:
    """Local training round."""
    return handle_train(msg, context, _runtime(config_from_context(context)))


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """Federated evaluation on the client's shard."""
    return handle_evaluate(msg, context, _runtime(config_from_context(context)))
