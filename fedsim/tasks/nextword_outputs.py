"""What a finished next-word run adds to its run directory (the task's `write_artifacts`).

- nextword_eval.json: metrics of the final model on the held-out clients (never trained
  on) and the unigram-frequency baseline (always predict the most frequent scored
  training token: the accuracy of a model that ignores the context);
- generations.json: seeded greedy, beam and nucleus continuations of fixed prompts;
- nextword.md: both as tables, shown inline in the report's "Task outputs" section.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from fedsim.data import FederatedData
from fedsim.tasks.base import Artifact
from fedsim.tasks.generation import generate_samples, prompts_for
from fedsim.tasks.lm_metrics import unigram_accuracy
from fedsim.tracking.run_dir import write_json, write_text

if TYPE_CHECKING:
    from fedsim.tasks.nextword import NextWordTask

EVALUATION, GENERATIONS, MARKDOWN = "nextword_eval.json", "generations.json", "nextword.md"
METRICS = ("loss", "perplexity", "accuracy", "top3_accuracy")


def evaluate_outputs(task: NextWordTask, model: nn.Module, data: FederatedData) -> dict[str, Any]:
    """Held-out clients' names and metrics (None without any) and the unigram baseline."""
    heldout = None if data.heldout is None else task.evaluate(model, data.heldout)
    train_targets = task.targets(data.train)
    baseline: dict[str, Any] = {}
    for split, part in (("dev", data.dev), ("heldout", data.heldout)):
        if part is not None:
            token, accuracy = unigram_accuracy(train_targets, task.targets(part),
                                               task.tokenizer.excluded)  # fmt: skip
            baseline.update({"prediction": task.tokenizer.decode([token]),
                             f"{split}_accuracy": accuracy})  # fmt: skip
    held = [] if data.heldout is None else [data.class_names[i] for i in np.unique(data.heldout.y)]
    return {"heldout_clients": held, "heldout": heldout, "unigram_baseline": baseline}


def render_markdown(evaluation: dict[str, Any], samples: list[dict[str, Any]]) -> str:
    """The held-out metrics, the baseline and the samples as Markdown tables."""
    from fedsim.report import fmt  # the report package loads matplotlib: only at the end

    held = ", ".join(evaluation["heldout_clients"]) or "none in this data set"
    lines = [f"Clients never trained on: {held}."]
    if evaluation["heldout"] is not None:
        row = [fmt.number(evaluation["heldout"][k]) for k in METRICS]
        lines += ["", *fmt.table(["split", *METRICS], [["held-out clients", *row]])]
    base = evaluation["unigram_baseline"]
    lines += ["", f"Unigram baseline (always predict `{base['prediction']}`, the most frequent "
              f"scored training token): dev accuracy {fmt.number(base.get('dev_accuracy'))}, "
              f"held-out accuracy {fmt.number(base.get('heldout_accuracy'))}."]  # fmt: skip
    rows = [[fmt.cell(s["prompt"]), s["mode"],
             "(not available for this model)" if s["text"] is None else fmt.cell(s["text"])]
            for s in samples]  # fmt: skip
    lines += ["", "Generated continuations of fixed prompts (seeded; beam: 4 beams; nucleus: "
              "top-p 0.9; the word tokenizer's OOV token is never generated):", "",
              *fmt.table(["prompt", "decoding", "continuation"], rows)]  # fmt: skip
    return "\n".join(lines) + "\n"


def write_nextword_outputs(
    task: NextWordTask, model: nn.Module, data: FederatedData, run_dir: Path, seed: int
) -> list[Artifact]:
    """Write nextword_eval.json, generations.json and nextword.md; return them as artifacts."""
    evaluation = evaluate_outputs(task, model, data)
    samples = generate_samples(model, task.tokenizer, prompts_for(data.name), task.seq_len, seed)
    write_json(run_dir / EVALUATION, evaluation)
    write_json(run_dir / GENERATIONS, {"samples": samples})
    write_text(run_dir / MARKDOWN, render_markdown(evaluation, samples))
    return [
        Artifact("Next-word prediction: held-out clients, unigram baseline, samples", MARKDOWN),
        Artifact("Held-out metrics and unigram baseline (JSON)", EVALUATION),
        Artifact("Generated samples (JSON)", GENERATIONS),
    ]
