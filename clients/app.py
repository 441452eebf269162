"""fedsim's Flower ClientApp: thin handlers over fedsim.engine.client_side.

The same object runs under fedsim's own engine (inline / Ray actors), under Flower's
simulation and under `flwr run .`.
"""

from __future__ import annotations

from functools import lru_cache

from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from fedsim.config import Config
from fedsim.engine.app_config import config_from_context
from fedsim.engine.client_side import ClientRuntime, handle_evaluate, handle_train

app = ClientApp()


@lru_cache(maxsize=2)
def _runtime(cfg: Config) -> ClientRuntime:
    """One runtime per config per process: data and model are built once, not per message."""
    return ClientRuntime.build(cfg)


@app.train()
def train(msg: Message, context: Context) -> Message:
    """Local training round."""
    return handle_train(msg, context, _runtime(config_from_context(context)))


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """Federated evaluation on the client's shard."""
    return handle_evaluate(msg, context, _runtime(config_from_context(context)))
