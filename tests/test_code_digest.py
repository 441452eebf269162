"""manifest.json's `code_sha256`: the exact Python source a run executed, git or not."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from fedsim.tracking.manifest import CODE_PACKAGES, code_digest

ROOT = Path(__file__).resolve().parents[1]


def _copy(to: Path) -> Path:
    for package in CODE_PACKAGES:
        shutil.copytree(ROOT / package, to / package,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    return to


def test_the_digest_is_sha256_of_the_packages_files_by_path(tmp_path: Path) -> None:
    """A reference built another way: the files from a plain os.walk, framed the same way."""
    import os

    root = _copy(tmp_path / "tree")
    files = sorted(
        Path(folder, name).relative_to(root).as_posix()
        for package in CODE_PACKAGES
        for folder, _, names in os.walk(root / package)
        for name in names
        if name.endswith(".py")
    )
    digest = hashlib.sha256()
    for name in files:
        content = (root / name).read_bytes()
        digest.update(f"{len(name)}:{name}{len(content)}:".encode() + content)
    assert code_digest(root) == digest.hexdigest()


def test_a_copy_elsewhere_has_the_same_digest_and_any_edit_changes_it(tmp_path: Path) -> None:
    here = code_digest(_copy(tmp_path / "a"))
    copy = _copy(tmp_path / "b")
    assert code_digest(copy) == here == code_digest()  # where it lies does not matter
    (copy / "fedsim" / "notes.txt").write_text("not code")
    assert code_digest(copy) == here
    target = copy / "server" / "app.py"
    target.write_bytes(target.read_bytes() + b"\n")
    assert code_digest(copy) != here
    target.rename(copy / "server" / "app2.py")  # same bytes, another name
    assert code_digest(copy) not in (here, code_digest(_copy(tmp_path / "c")))


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs the git checkout")  # fmt: skip
def test_the_digest_covers_exactly_the_tracked_python_files(tmp_path: Path) -> None:
    """Built from `git ls-files` and `git show`: the same digest for a clean checkout."""
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *CODE_PACKAGES], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    if dirty.strip():
        pytest.skip("uncommitted changes in the code packages")
    listed = subprocess.run(["git", "ls-files", "--", *(f"{p}/*.py" for p in CODE_PACKAGES)],
                            cwd=ROOT, capture_output=True, text=True, check=True)  # fmt: skip
    for name in listed.stdout.split():
        blob = subprocess.run(["git", "show", f"HEAD:{name}"], cwd=ROOT, capture_output=True,
                              check=True).stdout  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(blob)
    assert code_digest(tmp_path) == code_digest()
