"""What an honest-but-curious server keeps of one client's update, for the update attack.

`UpdateCapture` is called by the server's RecordingGrid with every (message sent, reply)
pair. For the configured client and round it stores, under RUN_DIR/attacks/captured/, the
global weights it sent (`before.safetensors`) and exactly what came back
(`received.safetensors`): the client's new weights on the plain path. Under SecAgg+ the
reply of the masked-vector stage carries only masked, quantized integer vectors; those are
stored as they are (`received_masked_*` tensors), which is all such a server ever holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from flwr.app import Message

from fedsim.tracking.weights import save_weights

CAPTURED = Path("attacks") / "captured"
NAMES_KEY = "weight-names"  # legacy (SecAgg+) instructions name the unnamed arrays


def _round_of(sent: Message) -> int | None:
    for record in sent.content.config_records.values():
        if "server-round" in record:
            return int(record["server-round"])
    return None


def _masked_vectors(reply: Message) -> list[np.ndarray] | None:
    """The masked integer vectors of a SecAgg+ reply (None if this reply carries none)."""
    from flwr.common import bytes_to_ndarray
    from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key

    record = reply.content.config_records.get(RECORD_KEY_CONFIGS)
    if record is None or Key.MASKED_PARAMETERS not in record:
        return None
    return [bytes_to_ndarray(b) for b in record[Key.MASKED_PARAMETERS]]  # type: ignore[union-attr]


def _sent_weights(sent: Message) -> dict[str, torch.Tensor] | None:
    """The global weights a message carries, by name (None if it carries none)."""
    records = list(sent.content.array_records.values())
    if not records:
        return None
    arrays = records[0]
    names = list(arrays.keys())
    for config in sent.content.config_records.values():
        if NAMES_KEY in config:
            names = str(config[NAMES_KEY]).split(",")
    return {name: torch.from_numpy(np.array(array.numpy()))
            for name, array in zip(names, arrays.values(), strict=True)}


class UpdateCapture:
    """Stores what the server received from partition `client` in round `round_no`."""

    def __init__(self, run_dir: Path, client: int, round_no: int) -> None:
        self.folder = run_dir / CAPTURED
        self.client, self.round_no = client, round_no

    def __call__(self, sent: Message, reply: Message, partition: int | None) -> None:
        """Keep the sent global weights and the reply, if they are the attacked ones."""
        if partition != self.client or reply.has_error() or _round_of(sent) != self.round_no:
            return
        before = _sent_weights(sent)
        if before is None:
            return
        masked = _masked_vectors(reply)  # SecAgg+: what the masked-vector stage returns
        if masked is not None:
            self._save(before, {f"received_masked_{i}": torch.from_numpy(v.astype(np.int64))
                                for i, v in enumerate(masked)}, "secagg_masked_vectors")
        elif "arrays" in reply.content.array_records:  # plain path: the client's new weights
            self._save(before, reply.content["arrays"].to_torch_state_dict(), "weights")

    def _save(self, before: dict[str, torch.Tensor], received: dict[str, torch.Tensor],
              form: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        save_weights(before, self.folder / "before.safetensors")
        save_weights(received, self.folder / "received.safetensors")
        meta = {"partition_id": self.client, "round": self.round_no, "form": form}
        (self.folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
