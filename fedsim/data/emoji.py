"""Image-text pairs: every emoji of the Noto Color Emoji font with its English name.

Images come from the Debian package fonts-noto-color-emoji (a CBDT bitmap font: FreeType
renders it only at size 109, with Pillow's ``embedded_color``), composited on white and
downscaled to SIDE x SIDE RGB. Names come from the PyPI package `emoji` (``EMOJI_DATA``,
fully-qualified entries, CLDR short names cleaned of colons and underscores; flags read
"flag of <country>"). Each emoji is its own class; class ids index `emoji_names()`, so names
the font cannot draw (newer than the font, or a ZWJ sequence it draws as several glyphs)
are classes without examples.

Rendering takes seconds, so the pixels are cached in the fedsim cache folder
(`fedsim.cache`) as ``emoji-<font sha256[:12]>-<emoji version>-pil<Pillow version>-<SIDE>px.npz``.

The test split is grouped: an emoji and its skin-tone variants are always in the same split,
so test names are never seen in training, not even with another skin tone. Dev is a
plain 10% of the rest (`fedsim.data.splits`): a dev emoji may have a skin-tone sibling in
training.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
from pathlib import Path

import numpy as np

from fedsim.cache import cache_dir, read_npz_cache, save_npz_atomic
from fedsim.data.sources import DatasetSource, _register
from fedsim.data.splits import SPLIT_SEED
from fedsim.data.types import ArrayDataset
from fedsim.errors import DataError

FONT_DIR = Path("/usr/share/fonts")
FONT_FILE = "NotoColorEmoji.ttf"
FONT_SIZE = 109  # the only size a CBDT bitmap font renders at
SIDE = 32
TEST_PERCENT = 15
SKIN_TONE = re.compile(r",? ?\b(?:medium-light|medium-dark|light|medium|dark) skin tone\b")
REGIONAL_INDICATORS = range(0x1F1E6, 0x1F200)
BLACK_FLAG = "\U0001f3f4"  # tag-sequence subdivision flags (England, Scotland, Wales)


def font_path() -> Path | None:
    """The Noto Color Emoji font file, or None when fonts-noto-color-emoji is absent."""
    preferred = FONT_DIR / "truetype" / "noto" / FONT_FILE
    if preferred.is_file():
        return preferred
    return next(iter(sorted(FONT_DIR.rglob(FONT_FILE))), None) if FONT_DIR.is_dir() else None


def _package_present() -> bool:
    return importlib.util.find_spec("emoji") is not None


def emoji_available() -> bool:
    """Whether both the font and the `emoji` package are installed."""
    return _package_present() and font_path() is not None


def clean_name(cldr: str, char: str) -> str:
    """``:AB_button_(blood_type):`` -> ``AB button (blood type)``; flags get "flag of"."""
    name = " ".join(cldr.strip(":").replace("_", " ").replace("\u2019", "'").split())
    is_flag = ord(char[0]) in REGIONAL_INDICATORS or (char[0] == BLACK_FLAG and len(char) > 2)
    return f"flag of {name}" if is_flag else name


@functools.cache
def emoji_table() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(characters, names) of every fully-qualified emoji of the `emoji` package, in its order."""
    import emoji

    chars, names = [], []
    for char, info in emoji.EMOJI_DATA.items():
        if info["status"] == emoji.STATUS["fully_qualified"]:
            chars.append(char)
            names.append(clean_name(info["en"], char))
    return tuple(chars), tuple(names)


def emoji_names() -> tuple[str, ...]:
    """The class names (one per fully-qualified emoji); () when the package is missing."""
    return emoji_table()[1] if _package_present() else ()


def skin_tone_group(name: str) -> str:
    """The name with skin tones removed: variants of one emoji share it."""
    return " ".join(SKIN_TONE.sub("", name).replace(" ,", ",").split()).strip(", ")


def render(char: str, font: object, max_width: int) -> np.ndarray | None:
    """uint8 [3, SIDE, SIDE] of one emoji on white, or None if the font draws no single glyph."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = font.getbbox(char)  # type: ignore[attr-defined]
    if right - left > max_width or right <= left or bottom <= top:
        return None
    canvas = Image.new("RGBA", (right, bottom), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((0, 0), char, font=font, embedded_color=True)
    box = canvas.getchannel("A").getbbox()
    if box is None:  # a blank glyph
        return None
    glyph = canvas.crop(box)
    side = max(glyph.size)
    square = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    square.alpha_composite(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    small = square.convert("RGB").resize((SIDE, SIDE), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.uint8).transpose(2, 0, 1)


def render_all(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [N, 3, SIDE, SIDE] images, int64 [N] class ids) of every drawable emoji."""
    from PIL import ImageFont

    font = ImageFont.truetype(str(path), FONT_SIZE)
    single = font.getbbox("\U0001f600")  # grinning face: the width of one glyph
    max_width = int(1.25 * (single[2] - single[0]))
    images, labels = [], []
    for label, char in enumerate(emoji_table()[0]):
        image = render(char, font, max_width)
        if image is not None:
            images.append(image)
            labels.append(label)
    # C-contiguous NCHW: torch.tensor keeps numpy strides, and a channels-last copy runs other
    # conv kernels (other float rounding) than the same pixels read back from the cache.
    return np.ascontiguousarray(np.stack(images)), np.asarray(labels, dtype=np.int64)


def cache_file(path: Path) -> Path:
    """The cache file for this font file, `emoji` and Pillow versions and image size."""
    import emoji
    import PIL

    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return cache_dir() / f"emoji-{digest}-{emoji.__version__}-pil{PIL.__version__}-{SIDE}px.npz"


def rendered_emoji() -> tuple[np.ndarray, np.ndarray]:
    """`render_all` of the installed font, read from the cache when it is there."""
    path = font_path()
    if path is None or not _package_present():
        raise DataError(f"emoji needs {EMOJI_PROVIDER}: {EMOJI_INSTALL}")
    cached = cache_file(path)
    stored = read_npz_cache(cached, "images", "labels")  # None: absent or corrupt
    if stored is not None:
        return stored[0], stored[1]
    images, labels = render_all(path)
    save_npz_atomic(cached, images=images, labels=labels)
    return images, labels


def grouped_test_mask(names: tuple[str, ...], labels: np.ndarray) -> np.ndarray:
    """Boolean [N]: the rows in the test split (whole skin-tone groups, about 15%)."""
    groups = np.asarray([skin_tone_group(names[label]) for label in labels])
    unique = np.unique(groups)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(unique))
    sizes = {g: int(n) for g, n in zip(*np.unique(groups, return_counts=True), strict=True)}
    chosen, total = set(), 0
    for group in unique[order]:
        if total >= len(labels) * TEST_PERCENT // 100:
            break
        chosen.add(group)
        total += sizes[group]
    return np.isin(groups, list(chosen))


def _load_emoji() -> tuple[ArrayDataset, ArrayDataset]:
    images, labels = rendered_emoji()
    x = images.astype(np.float32) / np.float32(255.0)
    test = grouped_test_mask(emoji_names(), labels)
    return ArrayDataset(x[~test], labels[~test]), ArrayDataset(x[test], labels[test])


EMOJI_PROVIDER = "the Debian package fonts-noto-color-emoji and the PyPI package emoji"
EMOJI_INSTALL = "apt-get install fonts-noto-color-emoji && pip install emoji"

_register(DatasetSource(
    name="emoji", provider=EMOJI_PROVIDER, install=EMOJI_INSTALL, class_names=emoji_names(),
    is_available=emoji_available, load=_load_emoji,
))  # fmt: skip
