"""Two corrections to Flower 1.42's adaptive clipping wrappers, made by wrapping them.

Flower's `DifferentialPrivacy{Server,Client}SideAdaptiveClipping.aggregate_train`:
1. moves the norm the wrong way. Its `_geometric_update` does
   C <- C exp(-lr (clipped_fraction - target)), with clipped_fraction the (noised) share of
   updates that WERE clipped. Andrew et al. (2021) write C <- C exp(-lr (b - gamma)) with b
   the share NOT clipped; with the clipped share the sign must flip. As shipped, a round in
   which every update is clipped shrinks C further, and C runs to 0 (measured in
   tests/test_privacy_user.py).
2. adds the noise after that update, i.e. scaled to the NEW norm, while the updates were
   clipped to the old one: when C shrinks, the noise is below the sensitivity.
`AdaptiveClippingFix` holds the wrapper's norm update back until its aggregation (noise
included) is done, then applies C <- C exp(+lr (clipped_fraction - target)).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy


class AdaptiveClippingFix(Strategy):
    """Delegates to a Flower adaptive-clipping DP wrapper, correcting its norm update."""

    def __init__(self, inner: Strategy) -> None:
        super().__init__()
        self.inner = inner
        self._fraction: float | None = None
        inner._geometric_update = self._hold  # type: ignore[method-assign]

    @property
    def clipping_norm(self) -> float:
        """The norm the clients are clipped to in the next round."""
        return float(self.inner.clipping_norm)  # type: ignore[attr-defined]

    def _hold(self, clipped_fraction: float) -> None:
        self._fraction = clipped_fraction

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """As the wrapped strategy."""
        return self.inner.configure_train(server_round, arrays, config, grid)

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """The wrapper's aggregate (noise at the norm used for clipping), then the norm step."""
        self._fraction = None
        result = self.inner.aggregate_train(server_round, replies)
        if self._fraction is not None:
            inner = self.inner
            step = inner.clip_norm_lr * (self._fraction - inner.target_clipped_quantile)  # type: ignore[attr-defined]
            inner.clipping_norm *= math.exp(step)  # type: ignore[attr-defined]
        return result

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """As the wrapped strategy."""
        return self.inner.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """As the wrapped strategy."""
        return self.inner.aggregate_evaluate(server_round, replies)

    def summary(self) -> None:
        """As the wrapped strategy."""
        self.inner.summary()
