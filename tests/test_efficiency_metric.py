"""benchmarks/efficiency.py's arithmetic: issue #9's efficiency and the cap the server's own
evaluation puts on it."""

from __future__ import annotations

import math
import sys
from functools import cache
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import load_script

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@cache
def _module():
    sys.path.insert(0, str(BENCHMARKS))  # efficiency.py imports bench_io beside it
    try:
        return load_script(BENCHMARKS / "efficiency.py", "fedsim_bench_efficiency")
    finally:
        sys.path.remove(str(BENCHMARKS))


def _row(client_seconds: list[float], eval_seconds: float, round_seconds: float) -> dict:
    return {"clients": [{"seconds": s} for s in client_seconds],
            "eval_seconds": eval_seconds, "round_seconds": round_seconds}  # fmt: skip


def test_efficiency_and_cap_by_hand() -> None:
    eff = _module()
    rows = [_row([1.0, 2.0, 3.0], 0.5, 4.0), _row([2.0, 2.0], 1.0, 3.0)]
    assert eff.efficiency(rows, 2) == 10.0 / (7.0 * 2)
    assert eff.efficiency(rows, 2, without_eval=True) == 10.0 / (5.5 * 2)
    assert eff.eval_cap(rows, 2) == 10.0 / (10.0 + 2 * 1.5)
    assert math.isnan(eff.eval_cap([], 2))


@given(
    st.lists(st.lists(st.floats(0.01, 10.0), min_size=1, max_size=8), min_size=1, max_size=6),
    st.lists(st.floats(0.0, 5.0), min_size=6, max_size=6),
    st.integers(1, 8),
)
def test_the_cap_is_the_efficiency_of_a_perfect_engine(
    clients: list[list[float]], evals: list[float], workers: int
) -> None:
    """Rounds with no overhead and perfect balance (wall = client seconds / workers + the
    server's evaluation) have exactly the capped efficiency; any overhead lowers it."""
    eff = _module()
    perfect = [_row(c, e, sum(c) / workers + e) for c, e in zip(clients, evals, strict=False)]
    assert math.isclose(eff.efficiency(perfect, workers), eff.eval_cap(perfect, workers),
                        rel_tol=1e-9)  # fmt: skip
    slower = [{**r, "round_seconds": r["round_seconds"] + 0.01} for r in perfect]
    assert eff.efficiency(slower, workers) < eff.eval_cap(perfect, workers)
