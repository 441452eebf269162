"""Every combination SecAgg+ refuses: exit 2, the key and the reason in one line, no run dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedsim.config import load_config
from fedsim.privacy.secagg_rules import secagg_hides_updates

ON = ["--set", "secagg.enabled=true"]
USER = ["--set", "privacy.mode=user", "--set", "privacy.clipping_side=client"]
ONLY_SUM = "only the sum of the client updates"

REFUSED = [
    *[(["--set", f"strategy.name={name}"], "strategy.name", ONLY_SUM)
      for name in ("fedmedian", "fedtrimmedavg", "krum", "multikrum", "bulyan")],
    (["--set", "strategy.clip_norm=1.0"], "strategy.clip_norm", "clipping each update"),
    (["--set", "strategy.max_update_norm=5.0"], "strategy.max_update_norm", ONLY_SUM),
    (["--set", "privacy.mode=user"], "privacy.clipping_side", "server-side clipping"),
    ([*USER, "--set", "privacy.adaptive_clipping=true"], "privacy.adaptive_clipping",
     "in the clear"),
    ([*USER, "--set", "privacy.epsilon_budget=3.0"], "privacy.epsilon_budget", "legacy path"),
    (["--set", "privacy.mode=record"], "privacy.mode", "legacy path"),
    (["--set", "secagg.num_shares=4"], "secagg.num_shares", "must be odd"),
    (["--set", "secagg.num_shares=11"], "secagg.num_shares", "10 clients per round"),
    (["--set", "secagg.reconstruction_threshold=3"], "secagg.reconstruction_threshold",
     "fewer than all 3"),
    (["--set", "secagg.reconstruction_threshold=5"], "secagg.reconstruction_threshold",
     "allowed: 2 to 2"),
    (["--set", "secagg.reconstruction_threshold=1"], "secagg.reconstruction_threshold",
     "at least 2 shares"),
    (["--set", "strategy.clients_per_round=2"], "strategy.clients_per_round", "at least 3"),
    (["--set", "secagg.quantization_range=1000000000"], "secagg.quantization_range",
     "overflow"),
    (["--set", "secagg.max_weight=10"], "secagg.max_weight", "below the largest client shard"),
]


@pytest.mark.parametrize(("args", "key", "reason"), REFUSED)
def test_refused_with_secagg(cli, runs_dir: Path, args: list[str], key: str, reason: str) -> None:
    code, out, err = cli("run", "--runs-dir", str(runs_dir), *ON, *args)
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err + out
    assert key in err and reason in err, err
    assert not any(runs_dir.iterdir())


def test_hides_updates_follows_the_switch() -> None:
    assert secagg_hides_updates(load_config(None, ["secagg.enabled=true"]))
    assert not secagg_hides_updates(load_config(None, []))
