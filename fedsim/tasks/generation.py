"""Text from a trained next-word model: greedy, beam search and nucleus sampling.

GPT-2 decodes with transformers' `generate`; the LSTM baseline has greedy decoding only
(beam and nucleus are reported as not available for it). Sampling is seeded and runs on a
forked RNG, so the caller's random state is untouched and the same weights give the same text.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fedsim.models.language import GPT2LanguageModel
from fedsim.tasks.tokenizers import BOS, EOS, PAD, Tokenizer

MODES: dict[str, dict[str, Any]] = {
    "greedy": {"do_sample": False, "num_beams": 1},
    "beam": {"do_sample": False, "num_beams": 4},
    "nucleus": {"do_sample": True, "top_p": 0.9, "top_k": 0, "num_beams": 1},
}
MAX_NEW_TOKENS = 16
PROMPTS = {  # fixed per corpus; kjv-chapters uses kjv's
    "kjv": ("and god said", "in the beginning", "the lord is my"),
    "fortunes": ("the computer", "a man who", "life is"),
}
DEFAULT_PROMPTS = ("the",)


def prompts_for(dataset: str) -> tuple[str, ...]:
    """The fixed prompts of a data set."""
    return PROMPTS.get(dataset.split("-")[0], DEFAULT_PROMPTS)


def _greedy(
    model: nn.Module, ids: torch.Tensor, new_tokens: int, suppress: list[int]
) -> torch.Tensor:
    """Argmax decoding by re-running the model (any model mapping ids -> logits)."""
    for _ in range(new_tokens):
        logits = model(ids)[:, -1]
        logits[:, suppress] = float("-inf")
        ids = torch.cat([ids, logits.argmax(-1, keepdim=True)], dim=1)
        if int(ids[0, -1]) == EOS:
            break
    return ids


@torch.no_grad()
def continue_text(
    model: nn.Module,
    prompt: list[int],
    mode: str,
    seq_len: int,
    seed: int,
    suppress: tuple[int, ...] = (PAD, BOS),
) -> list[int] | None:
    """Token ids generated after [BOS] + `prompt` (EOS excluded); None if `mode` is unsupported.

    Tokens in `suppress` are never generated.
    """
    model.eval()
    device = next(model.parameters()).device
    ids = torch.tensor([[BOS, *prompt]], device=device)
    new_tokens = min(MAX_NEW_TOKENS, seq_len - ids.shape[1])
    if new_tokens <= 0:
        return []
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if isinstance(model, GPT2LanguageModel):
            out = model.gpt.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                pad_token_id=PAD, eos_token_id=EOS, suppress_tokens=list(suppress), **MODES[mode],
            )  # fmt: skip
        elif mode == "greedy":
            out = _greedy(model, ids, new_tokens, list(suppress))
        else:
            return None
    return [int(t) for t in out[0, ids.shape[1] :] if int(t) not in (EOS, PAD)]


def generate_samples(
    model: nn.Module, tokenizer: Tokenizer, prompts: tuple[str, ...], seq_len: int, seed: int
) -> list[dict[str, Any]]:
    """One record per (prompt, mode): prompt, mode, generated text (None: unsupported).

    The word tokenizer's OOV token is not generated: it stands for no word in particular.
    """
    suppress = (PAD, BOS) if tokenizer.oov is None else (PAD, BOS, tokenizer.oov)
    records = []
    for number, prompt in enumerate(prompts):
        ids = tokenizer.encode_text(prompt)
        for mode in MODES:
            out = continue_text(model, ids, mode, seq_len, seed + number, suppress)
            text = None if out is None else tokenizer.decode(out)
            records.append({"prompt": prompt, "mode": mode, "text": text})
    return records
