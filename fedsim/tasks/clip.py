"""CLIP: image-text contrastive training on (image, caption) pairs.

Each client trains on its shard's pairs with the symmetric CLIP loss over in-batch pairs
(`fedsim.losses.clip_loss`); a caption is one of the data set's templates, drawn per
example and step (`fedsim.data.captions`). The text tower is, by ``task.text_tower``:

- ``minilm`` (default, LiT): the frozen pretrained MiniLM embeds every caption once per
  process; only a linear projection on top is trained and federated;
- ``transformer``: a small CLIPTextModel over characters, trained from random init.

Captions of one class are identical (up to the template), so a batch holding two images of
a class has false negatives, as web-scale CLIP batches do; the loss still pulls each image
to its class text. The loss couples the examples of a batch: it is not per-example
decomposable (``LOSSES["clip_loss"]``), which record-level DP must refuse.

Metrics: zero-shot accuracy (each image against the prompt-ensembled text of every class
present in the evaluated split), image->text and text->image recall@1/@5 over those class
texts, and the CLIP loss over consecutive batches of ``client.batch_size``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fedsim.config import ClientSection, Config
from fedsim.data import ArrayDataset, FederatedData
from fedsim.data.captions import captions_for
from fedsim.errors import ConfigError
from fedsim.losses import clip_loss
from fedsim.models import MODELS
from fedsim.models.clip import CharTokenizer, CharTransformerText, ClipModel, ProjectedFeatures
from fedsim.models.embedding import EmbeddingNet
from fedsim.models.minilm import MINILM_DIM, caption_features
from fedsim.tasks.base import Artifact, TrainResult
from fedsim.tasks.clip_eval import cosine, retrieval_recall, zero_shot_accuracy
from fedsim.tasks.clip_plot import plot_similarity
from fedsim.tasks.inference import batched
from fedsim.tasks.local_sgd import batch_schedule, local_sgd
from fedsim.tasks.registry import TASKS

CLIP_LOSS = "clip_loss"
LOSS_ALIASES = ("clip_loss", "cross_entropy")  # CLIP's loss is the symmetric cross-entropy
SHOWN_EXAMPLES = 8


def resolve_clip(cfg: Config) -> Config:
    """For ``task.name = 'clip'``, the default loss name 'cross_entropy' becomes 'clip_loss',
    so the resolved config names the coupled loss that actually trains (DP checks read it)."""
    if cfg.task.name != "clip" or cfg.task.loss != "cross_entropy":
        return cfg
    return dataclasses.replace(cfg, task=dataclasses.replace(cfg.task, loss=CLIP_LOSS))


def check_clip_options(cfg: Config) -> None:
    """ConfigErrors for keys the clip task cannot honour."""
    if cfg.task.loss not in LOSS_ALIASES:
        raise ConfigError("task.loss", f"clip trains with the symmetric CLIP loss; got "
                          f"{cfg.task.loss!r}; allowed: clip_loss (or the default "
                          "cross_entropy, which means the same for clip)")
    if cfg.task.miner != "none":
        raise ConfigError("task.miner", "clip uses every other pair of the batch as a negative "
                          f"and mines none; set 'none', got {cfg.task.miner!r}")


class ClipTask:
    """Image-text contrastive training; metrics: zero-shot accuracy, cross-modal recall@k."""

    name = "clip"

    def __init__(self, cfg: Config, data: FederatedData) -> None:
        check_clip_options(cfg)
        self.cfg, self._data = cfg, data
        self.captions = captions_for(data.name, data.class_names)
        classes, templates = len(self.captions.names), len(self.captions.templates)
        texts = self.captions.texts()
        if cfg.task.text_tower == "minilm":
            inputs = caption_features(texts)
        else:
            seen = set(np.unique(data.train.y).tolist())
            train_texts = tuple(t for i, t in enumerate(texts) if i // templates in seen)
            self.tokenizer = CharTokenizer(train_texts, max(len(t) for t in texts) + 2)
            inputs = self.tokenizer.encode(texts)
        self.text_inputs = inputs.reshape(classes, templates, -1)  # [C, T, features or ids]

    def build_model(self) -> nn.Module:
        """Image tower (``task.model`` backbone + projection), text tower, logit scale."""
        t, d = self.cfg.task, self._data
        backbone = MODELS.get(t.model)(d.image_shape, d.num_classes, t.width)
        image = EmbeddingNet(backbone, d.image_shape, t.embedding_dim, normalize=False)
        if t.text_tower == "minilm":
            text: nn.Module = ProjectedFeatures(MINILM_DIM, t.embedding_dim)
        else:
            text = CharTransformerText(self.tokenizer.vocab_size, self.tokenizer.max_len,
                                       t.embedding_dim)
        return ClipModel(image, text)

    def _texts(self, labels: torch.Tensor, templates: torch.Tensor | None = None
               ) -> torch.Tensor:
        """Text inputs of `labels` with the given template per row (default: the first)."""
        labels = labels.cpu()
        chosen = torch.zeros_like(labels) if templates is None else templates
        return self.text_inputs[labels, chosen]

    def class_embeddings(self, model: ClipModel, classes: torch.Tensor) -> torch.Tensor:
        """Unit text embeddings [K, D] of `classes`: the mean over templates (CLIP's prompt
        ensembling), renormalised."""
        inputs = self.text_inputs[classes.cpu()]
        device = model.logit_scale.device
        emb = model.encode_text(inputs.flatten(0, 1).to(device))
        return nn.functional.normalize(emb.view(len(classes), inputs.shape[1], -1).mean(1), dim=1)

    def pair_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                  generator: torch.Generator | None = None, reduction: str = "mean"
                  ) -> torch.Tensor:
        """CLIP loss of the batch's (image, caption) pairs; templates drawn with `generator`."""
        templates = None
        if generator is not None and self.text_inputs.shape[1] > 1:
            templates = torch.randint(self.text_inputs.shape[1], (len(y),), generator=generator)
        text = self._texts(y, templates).to(x.device)
        return clip_loss(model.encode_image(x), model.encode_text(text), model.scale(),
                         reduction)

    def train(self, model: nn.Module, shard: ArrayDataset, client: ClientSection,
              generator: torch.Generator, proximal_mu: float = 0.0) -> TrainResult:
        """Local SGD on in-batch pairs; batches of one pair (no negative) are skipped."""
        batches = [b for b in batch_schedule(len(shard), client, generator) if len(b) >= 2]
        if not batches:
            return TrainResult(num_examples=0, steps=0, loss=0.0)

        def batch_loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return self.pair_loss(m, x, y, generator)

        return local_sgd(model, shard, client, generator, batch_loss, proximal_mu,
                         batches=batches)

    def per_example_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor
                         ) -> torch.Tensor:
        """Negative cosine similarity of each image and its class text (prompt-ensembled) [N].

        Chosen over a pair's CLIP loss because it reads no other example: the score of a
        pair does not depend on which batch it is scored in (a membership-inference score).
        """
        classes, index = torch.unique(y, return_inverse=True)
        text = self.class_embeddings(model, classes)[index]
        return -(model.encode_image(x) * text).sum(1)

    @torch.no_grad()
    def embed_images(self, model: nn.Module, data: ArrayDataset) -> torch.Tensor:
        """Unit image embeddings of every example of `data`, in order (CPU)."""
        model.eval()
        return batched(model.encode_image, data.x, model.logit_scale.device)

    @torch.no_grad()
    def _loss(self, model: nn.Module, data: ArrayDataset) -> float:
        """Mean CLIP loss over consecutive batches of ``client.batch_size`` (first template)."""
        size, device, total, count = self.cfg.client.batch_size, model.logit_scale.device, 0.0, 0
        for start in range(0, len(data) - 1, size):
            x = torch.tensor(data.x[start : start + size], device=device)
            if len(x) < 2:
                break
            y = torch.from_numpy(np.array(data.y[start : start + size]))
            total += float(self.pair_loss(model, x, y, reduction="sum"))
            count += len(x)
        return total / max(count, 1)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, data: ArrayDataset) -> dict[str, float]:
        """Zero-shot accuracy, i2t/t2i recall@1/@5 against the split's class texts, loss."""
        images = self.embed_images(model, data)
        labels = torch.from_numpy(np.array(data.y))
        classes = labels.unique()
        texts = self.class_embeddings(model, classes).cpu()
        return {
            "zero_shot_accuracy": zero_shot_accuracy(images, labels, texts, classes),
            **retrieval_recall(images, labels, texts, classes, (1, 5)),
            "loss": self._loss(model, data),
            "temperature": float(torch.exp(-model.scale())),
        }

    def write_artifacts(self, model: nn.Module, data: FederatedData, run_dir: Path
                        ) -> list[Artifact]:
        """Image x text similarity scores of a few test examples of distinct classes."""
        order = np.random.default_rng(0).permutation(len(data.test))
        _, first = np.unique(data.test.y[order], return_index=True)
        chosen = order[np.sort(first)[:SHOWN_EXAMPLES]]  # first distinct classes, random order
        shown = data.test.subset(chosen)
        labels = torch.from_numpy(np.array(shown.y))
        with torch.no_grad():
            texts = self.class_embeddings(model, labels).cpu()
            sim = cosine(self.embed_images(model, shown), texts)
            scale = float(model.scale())
        names = [self.captions.names[int(c)] for c in labels]
        plot_similarity(np.array(shown.x), names, sim, scale, run_dir / "clip_similarity.png",
                        "CLIP on test images: P(text | image) and cosine")
        return [Artifact("Image-text similarity of test examples (rows: images, columns: "
                         "their class texts; diagonal = the right text)", "clip_similarity.png")]


TASKS.register("clip")(ClipTask)
