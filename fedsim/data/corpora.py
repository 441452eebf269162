"""Readers of the offline text corpora: the King James Bible and the Unix fortunes.

A reader returns a `Corpus`: one text unit per verse (or fortune), its label (the book or
category: what `label_histogram` counts), its natural client id (book, chapter or category)
and the labels held out of training altogether (clients never seen in training).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fedsim.errors import DataError

BIBLE_COMMAND = ("bible", "-f", "gen1:1-rev22:21")  # Debian bible-kjv: one verse per line
FORTUNES_DIR = Path("/usr/share/games/fortunes")  # Debian fortunes: "%"-separated files
# Books never in training: narrative, prophecy, gospel and epistles (1,049 of 31,102 verses).
KJV_HELDOUT = ("Ruth", "Est", "Jonah", "Mark", "Titus", "Jude")
# Categories never in training; ascii-art is pictures, not prose, and is left out.
FORTUNES_HELDOUT = ("food", "pets", "sports", "tao")
FORTUNES_SKIPPED = ("ascii-art",)

_VERSE = re.compile(r"^(?P<book>[1-3]?[A-Za-z]+)(?P<chapter>\d+):(?P<verse>\d+) (?P<text>.*)$")
_OVERSTRIKE = re.compile(r".\x08")  # nroff bold/underline: "x\bx", "_\bx"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Corpus:
    """Text units with their labels, natural client ids and held-out labels."""

    texts: tuple[str, ...]
    labels: np.ndarray  # int64 [N]: index into label_names (book / category)
    clients: np.ndarray  # int64 [N]: natural client id (book, chapter or category)
    label_names: tuple[str, ...]
    heldout: frozenset[int]  # labels whose units are never in train, dev or test


def bible_available() -> bool:
    """True when the `bible` program of Debian bible-kjv is on PATH."""
    return shutil.which(BIBLE_COMMAND[0]) is not None


def fortunes_available() -> bool:
    """True when Debian fortunes' category files are present."""
    return FORTUNES_DIR.is_dir() and any(_fortune_files())


def _bible_lines() -> list[str]:
    try:
        done = subprocess.run(BIBLE_COMMAND, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        command = " ".join(BIBLE_COMMAND)
        raise DataError(f"`{command}` failed ({err}); reinstall bible-kjv") from None
    return done.stdout.splitlines()


def read_kjv(by_chapter: bool = False) -> Corpus:
    """Every verse of the KJV; clients are books, or chapters when `by_chapter`."""
    books: list[str] = []
    texts, labels, clients = [], [], []
    chapters: dict[tuple[int, int], int] = {}
    for line_no, line in enumerate(_bible_lines(), start=1):
        match = _VERSE.match(line)
        if match is None:
            raise DataError(f"bible output line {line_no} is not 'BookC:V text': {line[:60]!r}")
        if not books or books[-1] != match["book"]:
            books.append(match["book"])
        book = len(books) - 1
        chapter = chapters.setdefault((book, int(match["chapter"])), len(chapters))
        texts.append(match["text"])
        labels.append(book)
        clients.append(chapter if by_chapter else book)
    if len(books) != 66:
        raise DataError(f"bible printed {len(books)} books, expected 66; reinstall bible-kjv")
    heldout = frozenset(books.index(name) for name in KJV_HELDOUT)
    return Corpus(tuple(texts), np.asarray(labels, np.int64), np.asarray(clients, np.int64),
                  tuple(books), heldout)  # fmt: skip


def _fortune_files() -> list[Path]:
    names = [p for p in sorted(FORTUNES_DIR.iterdir()) if p.is_file() and not p.suffix]
    return [p for p in names if p.name not in FORTUNES_SKIPPED]


def clean_fortune(raw: str) -> str:
    """One fortune as plain prose: no overstriking, no control bytes, no '-- author' lines."""
    text = _CONTROL.sub(" ", _OVERSTRIKE.sub("", raw))
    lines = [line for line in text.splitlines() if not line.strip().startswith("-- ")]
    return " ".join(" ".join(lines).split())


def split_fortunes(text: str) -> list[str]:
    """The fortunes of one category file (separated by lines holding only '%')."""
    chunks = re.split(r"^%\s*$", text, flags=re.MULTILINE)
    return [fortune for fortune in map(clean_fortune, chunks) if fortune]


def read_fortunes() -> Corpus:
    """Every fortune; clients (and labels) are the category files."""
    names, texts, labels = [], [], []
    for path in _fortune_files():
        fortunes = split_fortunes(path.read_text(encoding="utf-8", errors="replace"))
        if fortunes:
            names.append(path.name)
            texts += fortunes
            labels += [len(names) - 1] * len(fortunes)
    heldout = frozenset(names.index(name) for name in FORTUNES_HELDOUT if name in names)
    ids = np.asarray(labels, np.int64)
    return Corpus(tuple(texts), ids, ids.copy(), tuple(names), heldout)
