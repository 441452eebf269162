"""Issue #9's regression guard: the engine's per-round overhead, as a ratio to the same
round's plain-torch compute, stays within 3x of the ratio recorded in
benchmarks/guard_baseline.json (a ratio, not an absolute time: see benchmarks/guard.py)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import load_script

GUARD = Path(__file__).resolve().parents[1] / "benchmarks" / "guard.py"


def _guard_module():
    return load_script(GUARD, "fedsim_bench_guard")


def test_engine_overhead_ratio_within_three_times_baseline() -> None:
    guard = _guard_module()
    measured = guard.overhead_ratio()
    limit = guard.GUARD_FACTOR * guard.baseline()
    assert measured["plain_round_ms"] > 0 and measured["overhead_ms"] > -1.0
    assert measured["ratio"] <= limit, (
        f"engine overhead {measured['overhead_ms']:.1f} ms/round is {measured['ratio']:.2f}x a "
        f"plain round ({measured['plain_round_ms']:.1f} ms); recorded baseline "
        f"{guard.baseline():.2f}, limit {limit:.2f} (benchmarks/guard.py)"
    )
