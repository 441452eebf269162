"""What the server receives from one SecAgg+ client is independent of that client's update.

Flower's SecAggPlusWorkflow and secaggplus_mod run on fedsim's DirectGrid with clients that
send chosen vectors; a grid wrapper keeps the masked vector node 1000 uploads. Over repeated
protocol runs, the masked vectors for two very different updates are indistinguishable
(two-sample KS test, correlation), while the same tests tell the unmasked quantized vectors
apart at once: the test has the power to fail.
"""

from __future__ import annotations

import numpy as np
from flwr.app import Context, Message, RecordDict
from flwr.client.mod import secaggplus_mod
from flwr.clientapp import ClientApp
from flwr.common import Code, FitRes, Status, bytes_to_ndarray, ndarrays_to_parameters
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.common.secure_aggregation.quantization import quantize
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key
from flwr.compat.common import recorddict_compat as compat
from flwr.server import ServerConfig
from flwr.server.client_manager import SimpleClientManager
from flwr.server.compat.legacy_context import LegacyContext
from flwr.server.strategy import FedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from scipy import stats

from fedsim.engine.executors import InlineExecutor
from fedsim.engine.grid import DirectGrid

DIM, CLIENTS, RUNS, CLIP, LEVELS = 64, 3, 25, 1.0, 2**16
TARGET = 1000  # node id of partition 0
UPDATES: dict[int, np.ndarray] = {}  # node id -> the vector it trains to (set per run)

app = ClientApp(mods=[secaggplus_mod])


@app.train()
def _train(msg: Message, context: Context) -> Message:
    fitres = FitRes(Status(Code.OK, "ok"), ndarrays_to_parameters([UPDATES[context.node_id]]),
                    10, {})
    return Message(compat.fitres_to_recorddict(fitres, keep_input=True), reply_to=msg)


class CapturingGrid(DirectGrid):
    """A DirectGrid that keeps the masked vector TARGET uploads."""

    masked: np.ndarray | None = None

    def send_and_receive(self, messages, *, timeout=None):  # type: ignore[no-untyped-def]
        replies = super().send_and_receive(messages, timeout=timeout)
        for reply in replies:
            configs = reply.content.config_records.get(RECORD_KEY_CONFIGS, {})
            if reply.metadata.src_node_id == TARGET and Key.MASKED_PARAMETERS in configs:
                arrays = [bytes_to_ndarray(b) for b in configs[Key.MASKED_PARAMETERS]]
                self.masked = arrays[1]  # arrays[0] is the masked weight factor
        return replies


def masked_upload(target_update: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One SecAgg+ round; the vector the server received from TARGET."""
    for node in range(TARGET, TARGET + CLIENTS):
        UPDATES[node] = rng.uniform(-CLIP / 2, CLIP / 2, DIM)
    UPDATES[TARGET] = target_update
    grid = CapturingGrid(InlineExecutor(app, {}, CLIENTS), CLIENTS)
    strategy = FedAvg(fraction_evaluate=0.0, min_fit_clients=CLIENTS,
                      min_available_clients=CLIENTS, min_evaluate_clients=0,
                      initial_parameters=ndarrays_to_parameters([np.zeros(DIM)]))
    base = Context(run_id=1, node_id=SUPERLINK_NODE_ID, node_config={}, state=RecordDict(),
                   run_config={})
    context = LegacyContext(base, config=ServerConfig(num_rounds=1), strategy=strategy,
                            client_manager=SimpleClientManager())
    workflow = SecAggPlusWorkflow(3, 2, max_weight=10.0, clipping_range=CLIP,
                                  quantization_range=LEVELS)
    DefaultWorkflow(fit_workflow=workflow)(grid, context)
    assert grid.masked is not None
    return grid.masked.astype(np.float64)


def test_masked_upload_is_independent_of_the_update() -> None:
    rng = np.random.default_rng(0)
    zeros, high = np.zeros(DIM), np.full(DIM, 0.9 * CLIP)
    masked_zero = np.concatenate([masked_upload(zeros, rng) for _ in range(RUNS)])
    masked_high = np.concatenate([masked_upload(high, rng) for _ in range(RUNS)])
    random_updates = [rng.uniform(-CLIP, CLIP, DIM) for _ in range(RUNS)]
    masked_random = np.concatenate([masked_upload(u, rng) for u in random_updates])
    # the server's view: uniform on the 2^32 mask range whatever the update
    assert stats.ks_2samp(masked_zero, masked_high).pvalue > 1e-4  # fails 1 in 10^4 by chance
    assert stats.kstest(masked_zero / 2**32, "uniform").pvalue > 1e-4
    r = np.corrcoef(np.concatenate(random_updates), masked_random)[0, 1]
    assert abs(r) < 4 / np.sqrt(RUNS * DIM)
    # control: without the masks the same tests separate the two updates at once
    plain_zero = quantize([np.tile(zeros, RUNS)], CLIP, LEVELS)[0].astype(np.float64)
    plain_high = quantize([np.tile(high, RUNS)], CLIP, LEVELS)[0].astype(np.float64)
    assert stats.ks_2samp(plain_zero, plain_high).pvalue < 1e-10
    plain_random = quantize([np.concatenate(random_updates)], CLIP, LEVELS)[0]
    assert np.corrcoef(np.concatenate(random_updates), plain_random)[0, 1] > 0.99
