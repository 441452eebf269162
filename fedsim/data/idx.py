"""Reader for gzip-compressed IDX files (the MNIST family's on-disk format).

IDX: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, one
big-endian uint32 per dimension, then the values in C order.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from fedsim.errors import DataError

_UBYTE = 0x08


def read_idx_gz(path: Path, ndim: int) -> np.ndarray:
    """The uint8 array stored in the gzip IDX file `path`, which must have `ndim` dimensions.

    A missing, truncated or malformed file is a DataError naming the file.
    """
    try:
        raw = gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: not a readable gzip file ({err})") from None
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:2] != b"\0\0" or raw[2] != _UBYTE or raw[3] != ndim:
        raise DataError(f"{path}: not an IDX file of unsigned bytes with {ndim} dimension(s)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(
            f"{path}: truncated or corrupt IDX file ({len(raw)} bytes, header says {expected})"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
