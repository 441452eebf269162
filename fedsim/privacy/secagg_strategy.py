"""A legacy strategy wrapper that makes SecAgg+ rounds reproducible and keeps dtypes."""

from __future__ import annotations

from typing import Any

import numpy as np
from flwr.common import (
    EvaluateIns,
    EvaluateRes,
    FitIns,
    FitRes,
    Parameters,
    Scalar,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.server.client_manager import ClientManager
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import Strategy

from fedsim.engine.seeding import stream_seed

NOISE_STREAM = 11  # keys the server's np.random in aggregate_fit: (seed, round, this)


class SeededAggregation(Strategy):
    """Delegates to `inner`; before each aggregation it seeds NumPy's global RNG by
    (seed, round), and it casts the aggregate back to the model's dtypes.

    Seeding: the DP wrapper draws its noise from np.random, which in-process clients also
    use (SecAgg+ rounding), so without it inline and Ray runs would differ. Dtypes: SecAgg+
    dequantizes to float64, which would double the bytes sent from the next round on.
    """

    def __init__(self, inner: Strategy, seed: int, dtypes: list[Any]) -> None:
        super().__init__()
        self.inner, self.seed, self.dtypes = inner, seed, dtypes

    def initialize_parameters(self, client_manager: ClientManager) -> Parameters | None:
        """The inner strategy's initial parameters."""
        return self.inner.initialize_parameters(client_manager)

    def configure_fit(
        self, server_round: int, parameters: Parameters, client_manager: ClientManager
    ) -> list[tuple[ClientProxy, FitIns]]:
        """The inner strategy's fit instructions."""
        return self.inner.configure_fit(server_round, parameters, client_manager)

    def aggregate_fit(
        self,
        server_round: int,
        results: list[tuple[ClientProxy, FitRes]],
        failures: list[tuple[ClientProxy, FitRes] | BaseException],
    ) -> tuple[Parameters | None, dict[str, Scalar]]:
        """The inner aggregate, from a seeded RNG, in the model's dtypes."""
        np.random.seed(stream_seed(self.seed, server_round, NOISE_STREAM) % 2**32)
        parameters, metrics = self.inner.aggregate_fit(server_round, results, failures)
        if parameters is None:
            return None, metrics
        arrays = parameters_to_ndarrays(parameters)
        cast = [a.astype(d, copy=False) for a, d in zip(arrays, self.dtypes, strict=True)]
        return ndarrays_to_parameters(cast), metrics

    def configure_evaluate(
        self, server_round: int, parameters: Parameters, client_manager: ClientManager
    ) -> list[tuple[ClientProxy, EvaluateIns]]:
        """The inner strategy's evaluate instructions."""
        return self.inner.configure_evaluate(server_round, parameters, client_manager)

    def aggregate_evaluate(
        self,
        server_round: int,
        results: list[tuple[ClientProxy, EvaluateRes]],
        failures: list[tuple[ClientProxy, EvaluateRes] | BaseException],
    ) -> tuple[float | None, dict[str, Scalar]]:
        """The inner strategy's evaluation aggregate."""
        return self.inner.aggregate_evaluate(server_round, results, failures)

    def evaluate(
        self, server_round: int, parameters: Parameters
    ) -> tuple[float, dict[str, Scalar]] | None:
        """The inner strategy's central evaluation (none: fedsim's session logs rounds)."""
        return self.inner.evaluate(server_round, parameters)
