"""Disk safety: run directories are never reused; an unwritable or full runs folder is a clear
error before training, and a disk that fills up mid-run is one line, not a traceback."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest

from fedsim.tracking import run_dir as run_dir_module
from fedsim.tracking.disk import MB, check_runs_dir
from fedsim.tracking.run_dir import create_run_dir
from tests.conftest import SMALL

SETS = [a for s in SMALL for a in ("--set", s)]


def test_an_existing_run_directory_is_never_reused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(run_dir_module.time, "strftime", lambda _: "20260101-000000")
    first = create_run_dir(tmp_path, "exp")
    (first / "weights.safetensors").write_text("keep me")
    second, third = create_run_dir(tmp_path, "exp"), create_run_dir(tmp_path, "exp")
    assert [p.name for p in (first, second, third)] == [
        "exp-20260101-000000", "exp-20260101-000000-2", "exp-20260101-000000-3"]
    assert (first / "weights.safetensors").read_text() == "keep me"
    assert not any(second.iterdir())


def test_full_disk_is_refused_before_anything_is_written(cli, runs_dir: Path) -> None:
    code, out, err = cli("run", "--runs-dir", str(runs_dir), *SETS,
                         "--set", "run.min_free_mb=1000000000")
    assert code == 2 and "Traceback" not in out + err
    assert "run.runs_dir: only" in err and "run.min_free_mb = 1000000000 MB" in err
    free_mb = round(shutil.disk_usage(runs_dir).free / MB)
    reported = int(err.split("only ")[1].split(" MB")[0])
    assert abs(reported - free_mb) <= 64  # the same disk, measured a moment apart
    assert not any(runs_dir.iterdir())


def test_enough_space_passes(tmp_path: Path) -> None:
    assert check_runs_dir(tmp_path / "a" / "b", 0) == tmp_path / "a" / "b"
    assert list((tmp_path / "a" / "b").iterdir()) == []  # the write probe is gone


def test_read_only_runs_dir_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    def read_only(*_, **__):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("fedsim.tracking.disk.tempfile.mkstemp", read_only)
    with pytest.raises(Exception) as caught:
        check_runs_dir(tmp_path, 0)
    assert str(caught.value) == f"run.runs_dir: {tmp_path} is not writable: Read-only file system"


def _sysfs_refuses_files() -> bool:
    try:
        os.close(os.open("/sys/kernel/.fedsim-probe", os.O_CREAT | os.O_WRONLY))
    except OSError:
        return Path("/sys/kernel").is_dir()
    os.unlink("/sys/kernel/.fedsim-probe")  # pragma: no cover
    return False  # pragma: no cover


@pytest.mark.skipif(not _sysfs_refuses_files(), reason="needs Linux sysfs")
@pytest.mark.parametrize("where", ["/sys/kernel", "/sys/kernel/fedsim-runs"])
def test_real_unwritable_folder_exits_2(cli, where: str) -> None:
    """sysfs refuses new files even to root (a chmod'ed folder would not stop root)."""
    code, out, err = cli("run", "--runs-dir", where, *SETS)
    assert code == 2 and "Traceback" not in out + err
    assert err.startswith("fedsim: error: run.runs_dir: ")
    assert len(err.strip().splitlines()) == 1


def test_disk_full_mid_run_is_one_line(cli, runs_dir: Path, monkeypatch) -> None:
    def no_space(*_, **__):
        raise OSError(errno.ENOSPC, "No space left on device", "weights.safetensors")

    monkeypatch.setattr("fedsim.engine.session.save_weights", no_space)
    code, out, err = cli("run", "--runs-dir", str(runs_dir), *SETS)
    assert code == 1 and "Traceback" not in err
    assert err.strip() == ("fedsim: error: cannot write weights.safetensors: No space left on "
                           "device (the run stopped; its manifest.json says so)")
    (run_dir,) = runs_dir.iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "No space left" in manifest["error"]
