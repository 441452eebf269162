"""Captions of image data sets: the text side of image-text pairs (the clip task).

An image's caption is one of its data set's templates filled with its class's spoken
name: "a photo of a sneaker". Several templates give varied training text; zero-shot
classification averages a class's template embeddings (CLIP's prompt ensembling).
Emoji captions are the emoji names themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fedsim.errors import IncompatibleOptionsError
from fedsim.registry import Registry


@dataclass(frozen=True)
class Captions:
    """Templates with one ``{}`` each, and the spoken name of every class."""

    templates: tuple[str, ...]
    names: tuple[str, ...]

    def texts(self) -> tuple[str, ...]:
        """Every caption, class-major: caption (c, t) is at ``c * len(templates) + t``."""
        return tuple(t.format(name) for name in self.names for t in self.templates)


CaptionFactory = Callable[[tuple[str, ...]], Captions]
CAPTIONS: Registry[CaptionFactory] = Registry("captioned data set", "data.dataset")

PHOTO = ("a photo of a {}.", "a picture of a {}.", "a black and white photo of a {}.",
         "a low resolution photo of a {}.")
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DIGIT = ("a handwritten digit {}.", "a photo of the number {}.", "a scan of a handwritten {}.")
FASHION_NAMES = {"T-shirt/top": "t-shirt", "Ankle boot": "ankle boot"}


def _fashion(class_names: tuple[str, ...]) -> Captions:
    return Captions(PHOTO, tuple(FASHION_NAMES.get(n, n.lower()) for n in class_names))


def _digits(class_names: tuple[str, ...]) -> Captions:
    return Captions(DIGIT, tuple(DIGIT_WORDS[int(n)] for n in class_names))


def _emoji(class_names: tuple[str, ...]) -> Captions:
    return Captions(("{}",), class_names)


CAPTIONS.register("fashion-mnist")(_fashion)
CAPTIONS.register("digits")(_digits)
CAPTIONS.register("mnist5k")(_digits)
CAPTIONS.register("emoji")(_emoji)


def captions_for(dataset: str, class_names: tuple[str, ...]) -> Captions:
    """The captions of `dataset`, or an error naming the data sets that have some."""
    if dataset not in CAPTIONS:
        raise IncompatibleOptionsError(
            "data.dataset", f"task.name = 'clip' trains on image-caption pairs and {dataset!r} "
            f"has no captions; allowed: {', '.join(CAPTIONS.names())}")
    return CAPTIONS.get(dataset)(class_names)
