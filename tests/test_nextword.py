"""Next-word prediction: metrics by hand, tokenizers, text splits, models, federated runs.

Most tests use a tiny synthetic corpus registered as the data set "tiny-text"; the KJV
tests skip (with the reason) when Debian bible-kjv is absent.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from fedsim.config import Config, DataSection, load_config
from fedsim.data import DATASETS, check_available, load_federated_data
from fedsim.data.corpora import Corpus, clean_fortune, split_fortunes
from fedsim.data.sources import TextSource
from fedsim.data.text import build_text_splits, text_pool
from fedsim.engine.run import run
from fedsim.errors import ConfigError, DataError
from fedsim.tasks import build_task
from fedsim.tasks.generation import continue_text
from fedsim.tasks.lm_metrics import sequence_losses, tally, token_losses, unigram_accuracy
from fedsim.tasks.tokenizers import BOS, EOS, OOV, PAD, BpeTokenizer, WordTokenizer, token_windows

TINY = "tiny-text"
SUBJECTS = ("the cat", "a dog", "my bird", "the fox")
VERBS = ("sees", "likes", "chases", "finds")
OBJECTS = ("the sun", "a tree", "the river", "some bread")


def tiny_corpus() -> Corpus:
    """4 labels x 40 generated sentences; label 3 is held out; label 1 always says 'quietly'."""
    rng = np.random.default_rng(7)
    texts, labels = [], []
    for label in range(4):
        for _ in range(40):
            words = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS)]
            texts.append(" ".join(words) + (" quietly." if label == 1 else "."))
            labels.append(label)
    ids = np.asarray(labels, np.int64)
    names = ("north", "south", "east", "west")
    return Corpus(tuple(texts), ids, ids.copy(), names, frozenset({3}))


TINY_SOURCE = TextSource(
    name=TINY, provider="the tests", install="nothing", class_names=(),
    is_available=lambda: True, load=lambda: (text_pool(tiny_corpus()), None), read=tiny_corpus,
)  # fmt: skip


@pytest.fixture(autouse=True, scope="module")
def tiny_text_registered():
    """"tiny-text" is a data set while this module's tests run, and only then."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(DATASETS._items, TINY, TINY_SOURCE)
        yield

TINY_RUN = [
    f"data.dataset={TINY}", "data.partitioner=natural", "data.num_clients=3",
    "task.name=nextword", "task.model=gpt2", "task.width=16", "task.vocab_size=40",
    "task.seq_len=8", "client.local_steps=2", "client.batch_size=8", "client.optimizer=adam",
    "client.lr=0.01", "run.rounds=2", "strategy.clients_per_round=0",
]  # fmt: skip


def tiny_config(*overrides: str, runs_dir: Path | None = None) -> Config:
    where = [f'run.runs_dir="{runs_dir}"'] if runs_dir else []
    return load_config(None, [*TINY_RUN, *where, *overrides])


# ------------------------------------------------------------------ metrics by hand


def one_hot_logits(rows: list[list[int]], vocab: int, high: float = 10.0) -> torch.Tensor:
    """Logits [B, T, V] peaking at the given token per position (ties impossible)."""
    logits = torch.zeros(len(rows), len(rows[0]), vocab)
    for b, row in enumerate(rows):
        for t, token in enumerate(row):
            logits[b, t, token] = high
    return logits


def test_perplexity_is_exp_of_mean_token_cross_entropy_over_non_pad() -> None:
    logits = torch.zeros(1, 3, 4)  # uniform over 4 tokens: every loss is log 4
    targets = torch.tensor([[OOV, EOS, PAD]])  # OOV and EOS targets count in the loss
    metrics = tally(logits, targets, PAD, (PAD, EOS, OOV)).metrics()
    assert metrics["loss"] == pytest.approx(math.log(4))
    assert metrics["perplexity"] == pytest.approx(4.0)


def test_accuracy_and_top3_by_hand() -> None:
    vocab = 8
    logits = one_hot_logits([[4, 5, 6, 7]], vocab)
    logits[0, 1, 6] = 9.0  # position 1: 5 first, 6 second
    logits[0, 2, 7], logits[0, 2, 4] = 9.0, 8.0  # position 2: 6 first, then 7, 4
    targets = torch.tensor([[4, 6, 5, 7]])  # hit, second, miss (5 not in top 3), hit
    metrics = tally(logits, targets, PAD, (PAD, EOS, OOV)).metrics()
    assert metrics["accuracy"] == pytest.approx(2 / 4)
    assert metrics["top3_accuracy"] == pytest.approx(3 / 4)


def test_oov_eos_and_pad_targets_are_not_scored() -> None:
    logits = one_hot_logits([[4, OOV, EOS, 5, PAD]], 6)  # the model "predicts" every target
    targets = torch.tensor([[4, OOV, EOS, 4, PAD]])  # scored: positions 0 (hit) and 3 (miss)
    counts = tally(logits, targets, PAD, (PAD, EOS, OOV))
    assert (counts.scored, counts.top1, counts.tokens) == (2, 1, 4)  # PAD is no token at all
    assert counts.metrics()["accuracy"] == 0.5
    bpe = tally(logits, targets, PAD, (PAD, EOS))  # byte-level BPE has no OOV: it is scored
    assert (bpe.scored, bpe.top1) == (3, 2)


def test_predicting_oov_for_a_real_word_is_wrong() -> None:
    logits = one_hot_logits([[OOV]], 6)
    assert tally(logits, torch.tensor([[4]]), PAD, (PAD, EOS, OOV)).metrics()["accuracy"] == 0


def test_sequence_loss_averages_each_sequences_non_pad_tokens() -> None:
    logits = torch.zeros(2, 3, 4)
    logits[1, 0, 3] = math.log(3.0)  # row 1, token 0: p(3) = 3 / 6 = 1/2
    targets = torch.tensor([[3, 3, PAD], [3, PAD, PAD]])
    assert sequence_losses(logits, targets, PAD).tolist() == pytest.approx(
        [math.log(4), math.log(2)]
    )


def test_token_losses_match_log_softmax_of_each_target() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 7, generator=generator)
    targets = torch.randint(0, 7, (3, 5), generator=generator)
    targets[0, 3:] = PAD
    expected = -logits.log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    expected = expected.masked_fill(targets == PAD, 0.0)
    assert torch.allclose(token_losses(logits, targets, PAD), expected, atol=1e-6)


def test_unigram_baseline_predicts_the_most_frequent_scored_token() -> None:
    train = torch.tensor([[EOS, EOS, EOS, 5, 5, 4]])  # EOS is more frequent but never scored
    token, accuracy = unigram_accuracy(train, torch.tensor([[5, 4, EOS, 5]]), (PAD, EOS, OOV))
    assert (token, accuracy) == (5, pytest.approx(2 / 3))


# ------------------------------------------------------------------ tokenizers and windows


def test_token_windows_add_bos_eos_truncate_and_pad() -> None:
    pieces = np.array([[4, -1], [5, 6], [7, -1]])  # word 1 is two tokens
    x = np.array([[0, 1, -1, -1], [2, 2, 2, 2]])
    assert token_windows(pieces, x, 5).tolist() == [
        [BOS, 4, 5, 6, EOS, PAD],
        [BOS, 7, 7, 7, 7, EOS],
    ]
    assert token_windows(pieces, x, 3).tolist() == [[BOS, 4, 5, 6], [BOS, 7, 7, 7]]  # no EOS


def test_word_vocabulary_is_top_v_training_words_by_frequency() -> None:
    words = ("apple", "berry", "cherry", "zebra")  # zebra: in the lexicon, never in training
    train_x = np.array([[0, 1, 1, -1], [2, 1, 0, -1]])  # berry 3, apple 2, cherry 1
    tokenizer = WordTokenizer.build(words, train_x, vocab_size=100)
    assert tokenizer.vocab == ("<pad>", "<bos>", "<eos>", "<oov>", "berry", "apple", "cherry")
    assert tokenizer.pieces[:, 0].tolist() == [5, 4, 6, OOV]
    assert WordTokenizer.build(words, train_x, vocab_size=6).vocab[4:] == ("berry", "apple")


def test_task_vocabulary_has_no_dev_or_test_only_word() -> None:
    corpus = tiny_corpus()
    for index in range(len(corpus.texts)):  # the first unit the fixed split keeps out of train
        texts = list(corpus.texts)
        texts[index] = texts[index].replace(".", " zebra.")
        leaky = build_text_splits(Corpus(tuple(texts), corpus.labels, corpus.clients,
                                         corpus.label_names, corpus.heldout))  # fmt: skip
        zebra = leaky.words.index("zebra")
        if zebra not in leaky.train.x:
            break
    assert zebra in leaky.dev.x or zebra in leaky.test.x
    tokenizer = WordTokenizer.build(leaky.words, leaky.train.x, vocab_size=1000)
    train_words = {leaky.words[i] for i in np.unique(leaky.train.x) if i >= 0}
    assert set(tokenizer.vocab[4:]) == train_words and "zebra" not in tokenizer.vocab
    assert tokenizer.pieces[zebra, 0] == OOV


def test_bpe_learns_from_training_rows_only() -> None:
    words = ("alpha", "beta", "zzqqxx")
    train_x = np.array([[0, 1, 0, 1, -1]] * 50)  # "zzqqxx" never in training
    tokenizer = BpeTokenizer.build(words, train_x, vocab_size=300)
    vocab = tokenizer.model.get_vocab()
    assert "Ġalpha" in vocab and not any("zzqq" in token for token in vocab)
    assert (tokenizer.pieces[2] >= 0).sum() > 1  # the unseen word falls back to pieces
    assert tokenizer.decode(tokenizer.encode_text("alpha zzqqxx")) == "alpha zzqqxx"


def test_the_tokenizer_never_crosses_the_wire() -> None:
    data = load_federated_data(tiny_config().data, 0)
    for model_name in ("gpt2", "lstm"):
        model = build_task(tiny_config(f"task.model={model_name}"), data).build_model()
        names = {name for name, _ in model.named_parameters()}
        assert set(model.state_dict()) == names  # weights only: no buffers, no vocab tables


# ------------------------------------------------------------------ corpora and splits


def test_fortunes_are_split_on_percent_lines_and_cleaned() -> None:
    text = "B\bBold  words\nnext line\n\t\t-- Some Author\n%\n\n%\nsecond one\n"
    assert split_fortunes(text) == ["Bold words next line", "second one"]
    assert clean_fortune("x\x07y _\bz") == "x y z"


def test_text_splits_are_fixed_per_label_and_hold_out_labels() -> None:
    splits = build_text_splits(tiny_corpus())
    again = build_text_splits(tiny_corpus())
    assert np.array_equal(splits.dev.x, again.dev.x)
    assert set(np.unique(splits.heldout.y)) == {3}
    assert 3 not in set(splits.train.y) | set(splits.dev.y) | set(splits.test.y)
    for label in (0, 1, 2):  # 10% dev and 10% test inside every client
        n = sum(int((part.y == label).sum()) for part in (splits.train, splits.dev, splits.test))
        assert int((splits.dev.y == label).sum()) == n // 10
    rows = [tuple(r) for part in (splits.train, splits.dev, splits.test) for r in part.x]
    assert len(rows) == len(set(rows))  # duplicates dropped: no text in two splits


@pytest.fixture(scope="module")
def kjv():
    try:
        check_available("kjv")
    except DataError as err:
        pytest.skip(f"data source not installed: {err}")
    return load_federated_data(DataSection(dataset="kjv", partitioner="natural", num_clients=60), 0)


def test_kjv_natural_partition_assigns_each_verse_to_its_book(kjv) -> None:
    books = [set(kjv.train.y[part].tolist()) for part in kjv.partitions]
    assert all(len(book) == 1 for book in books)
    assert len({book.pop() for book in books}) == 60
    heldout = {kjv.class_names[i] for i in np.unique(kjv.heldout.y)}
    assert heldout == {"Ruth", "Est", "Jonah", "Mark", "Titus", "Jude"}
    assert kjv.class_names[0] == "Ge" and len(kjv.class_names) == 66
    assert not heldout & {kjv.class_names[i] for i in np.unique(kjv.dev.y)}


def test_kjv_client_count_mismatch_names_the_right_number() -> None:
    try:
        check_available("kjv")
    except DataError as err:
        pytest.skip(f"data source not installed: {err}")
    with pytest.raises(ConfigError, match="data.num_clients: .* 60 natural clients; set it to 60"):
        load_federated_data(DataSection(dataset="kjv", partitioner="natural", num_clients=66), 0)


def test_missing_debian_package_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fedsim.data.corpora.shutil.which", lambda name: None)
    with pytest.raises(DataError, match="bible-kjv: apt-get install bible-kjv"):
        check_available("kjv")


# ------------------------------------------------------------------ task


@pytest.mark.parametrize(("model_name", "tokenizer"), [("gpt2", "word"), ("lstm", "word"),
                                                     ("gpt2", "bpe")])  # fmt: skip
def test_per_example_loss_has_one_value_per_sequence_and_means_to_the_batch_loss(
    model_name: str, tokenizer: str
) -> None:
    cfg = tiny_config(f"task.model={model_name}", f"task.tokenizer={tokenizer}",
                      *(["task.vocab_size=300"] if tokenizer == "bpe" else []))  # fmt: skip
    data = load_federated_data(cfg.data, 0)
    task = build_task(cfg, data)
    torch.manual_seed(0)
    model = task.build_model()
    x, y = torch.tensor(data.dev.x[:5]), torch.tensor(data.dev.y[:5])
    losses = task.per_example_loss(model, x, y).detach()
    assert losses.shape == (5,)
    assert task.batch_loss(model, x, y).item() == pytest.approx(float(losses.mean()))
    one = torch.cat([task.per_example_loss(model, x[i : i + 1], y[i : i + 1]) for i in range(5)])
    one = one.detach()
    assert torch.allclose(one, losses, atol=1e-5)  # a sequence's loss ignores its batch
    metrics = task.evaluate(model, data.dev)
    assert set(metrics) == {"loss", "perplexity", "accuracy", "top3_accuracy"}
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["loss"]))


@pytest.mark.parametrize(
    ("override", "key"),
    [("task.model=cnn", "task.model"), ("data.dataset=digits", "data.dataset"),
     ("task.width=15", "task.width"), ("task.loss=triplet", "task.loss"),
     ("task.tokenizer=bpe", "task.vocab_size")],
)  # fmt: skip
def test_bad_nextword_configs_name_the_key(override: str, key: str) -> None:
    cfg = tiny_config(override, *(["data.partitioner=iid"] if "digits" in override else []))
    with pytest.raises(ConfigError, match=f"^{key}: "):
        build_task(cfg, load_federated_data(cfg.data, 0))


def test_generation_is_seeded_and_lstm_has_greedy_only() -> None:
    cfg = tiny_config()
    data = load_federated_data(cfg.data, 0)
    task = build_task(cfg, data)
    torch.manual_seed(0)
    gpt2 = task.build_model()
    prompt = task.tokenizer.encode_text("the cat")
    first = continue_text(gpt2, prompt, "nucleus", task.seq_len, seed=3)
    assert first == continue_text(gpt2, prompt, "nucleus", task.seq_len, seed=3)
    assert first is not None and len(prompt) + 1 + len(first) <= task.seq_len
    assert continue_text(gpt2, prompt, "beam", task.seq_len, seed=3) is not None
    lstm = build_task(tiny_config("task.model=lstm"), data).build_model()
    assert continue_text(lstm, prompt, "greedy", task.seq_len, seed=3) is not None
    assert continue_text(lstm, prompt, "beam", task.seq_len, seed=3) is None


# ------------------------------------------------------------------ federated runs


def test_federated_smoke_run_reports_perplexity_accuracy_and_samples(runs_dir: Path) -> None:
    run_dir, summary = run(tiny_config(runs_dir=runs_dir))
    for split in ("dev", "test"):
        assert {"perplexity", "accuracy", "top3_accuracy"} <= set(summary["final"][split])
    assert summary["task"] == "nextword" and summary["num_clients"] == 3
    assert (run_dir / "generations.json").exists() and (run_dir / "nextword_eval.json").exists()
    assert {a["file"] for a in summary["artifacts"]} == {
        "nextword.md", "generations.json", "nextword_eval.json"}
    report = (run_dir / "report.md").read_text()
    assert "### Next-word prediction" in report and "west" in report  # the held-out client
    assert "| the | nucleus |" in report  # the default prompt of a corpus without its own


@pytest.mark.parametrize("strategy", ["fedprox", "fedavgm", "fedadam", "fedyogi", "fedsgd"])
def test_every_strategy_trains_the_nextword_task(runs_dir: Path, strategy: str) -> None:
    cfg = tiny_config(f"strategy.name={strategy}", "run.rounds=1",
                      *(["client.local_steps=1"] if strategy == "fedsgd" else []),
                      runs_dir=runs_dir)  # fmt: skip
    _, summary = run(cfg)
    assert math.isfinite(summary["final"]["dev"]["perplexity"])


def test_central_mode_is_one_iid_client(runs_dir: Path) -> None:
    cfg = tiny_config("data.num_clients=1", "data.partitioner=iid", runs_dir=runs_dir)
    _, summary = run(cfg)
    assert summary["num_clients"] == 1 and summary["final"]["dev"]["accuracy"] >= 0
