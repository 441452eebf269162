"""Faster conversions between Flower's `Array` and NumPy, with byte-identical results.

A Flower `Array` holds an in-memory .npy file. `Array.numpy()` reads it with `np.load`,
which parses the header text with `ast.literal_eval` (~70 us an array), and
`Array.from_numpy_ndarray` writes it with `np.save` (~50 us). A round converts every
client's weights several times (the client loads the global model and sends its own, the
server aggregates and evaluates), so on small models these two were a third of the engine's
per-round cost.

Every array of a model has one of a few headers, so `install()` swaps in versions that parse
or write each distinct header once and cache it; the data bytes are copied as they are.
Anything unusual (object or structured dtypes, non-contiguous arrays, a header or length
that does not add up) takes Flower's own path, so the results are exactly what Flower's
methods return (tested against them).
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
from flwr.app import Array
from flwr.common.constant import SType

_HEADERS_READ: dict[bytes, tuple[np.dtype, tuple[int, ...], bool]] = {}
_HEADERS_WRITTEN: dict[tuple[str, tuple[int, ...]], bytes] = {}
_MAX_CACHED = 4096  # distinct headers kept (a model has a few dozen shapes)
_ORIGINAL: dict[str, Any] = {}  # Flower's own class attributes, while installed


def _data_offset(data: bytes) -> int | None:
    """Where the array bytes start in an .npy buffer, or None if it is not one."""
    if data[:6] != b"\x93NUMPY" or len(data) < 12:
        return None
    if data[6] == 1:
        return 10 + int.from_bytes(data[8:10], "little")
    if data[6] in (2, 3):
        return 12 + int.from_bytes(data[8:12], "little")
    return None


def _parse_header(header: bytes) -> tuple[np.dtype, tuple[int, ...], bool]:
    """(dtype, shape, fortran order) of an .npy header, parsed by NumPy itself."""
    buffer = io.BytesIO(header)
    version = np.lib.format.read_magic(buffer)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else (
        np.lib.format.read_array_header_2_0)
    shape, fortran, dtype = read(buffer)
    return dtype, tuple(shape), bool(fortran)


def _plain(dtype: np.dtype) -> bool:
    """A dtype whose bytes are its values: no objects, no fields, no sub-arrays."""
    return not dtype.hasobject and dtype.fields is None and dtype.subdtype is None


def _remember(cache: dict, key: Any, value: Any) -> None:
    if len(cache) >= _MAX_CACHED:
        cache.clear()
    cache[key] = value


def array_to_numpy(array: Array) -> np.ndarray:
    """`array.numpy()`: a fresh, writable ndarray equal to what np.load returns."""
    data = array.data
    offset = _data_offset(data) if array.stype == SType.NUMPY else None
    if offset is None or not isinstance(data, bytes):
        return _flower_numpy(array)
    header = data[:offset]
    meta = _HEADERS_READ.get(header)
    if meta is None:
        try:
            meta = _parse_header(header)
        except ValueError:
            return _flower_numpy(array)  # let np.load raise its own error
        _remember(_HEADERS_READ, header, meta)
    dtype, shape, fortran = meta
    count = math.prod(shape)
    if not _plain(dtype) or count == 0 or len(data) - offset != count * dtype.itemsize:
        return _flower_numpy(array)
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    if fortran:
        return flat.reshape(shape[::-1]).transpose().copy(order="K")
    return flat.reshape(shape).copy()


def array_from_numpy(ndarray: np.ndarray) -> Array:
    """`Array.from_numpy_ndarray(ndarray)`: the same .npy bytes np.save writes."""
    if not isinstance(ndarray, np.ndarray) or not _plain(ndarray.dtype) or (
            not ndarray.flags.c_contiguous or ndarray.size == 0):
        return _flower_from_numpy(ndarray)
    key = (ndarray.dtype.str, tuple(ndarray.shape))
    header = _HEADERS_WRITTEN.get(key)
    if header is None:
        array = _flower_from_numpy(ndarray)
        _remember(_HEADERS_WRITTEN, key, array.data[: len(array.data) - ndarray.nbytes])
        return array
    return Array(dtype=str(ndarray.dtype), shape=tuple(ndarray.shape), stype=SType.NUMPY,
                 data=header + ndarray.tobytes())


def _flower_numpy(array: Array) -> np.ndarray:
    return _ORIGINAL.get("numpy", Array.numpy)(array)


def _flower_from_numpy(ndarray: np.ndarray) -> Array:
    method = _ORIGINAL.get("from_numpy_ndarray", Array.__dict__["from_numpy_ndarray"])
    return method.__get__(None, Array)(ndarray)


def install() -> None:
    """Use the cached-header conversions for every Flower `Array` in this process."""
    if _ORIGINAL:
        return
    _ORIGINAL.update(numpy=Array.__dict__["numpy"],
                     from_numpy_ndarray=Array.__dict__["from_numpy_ndarray"])
    Array.numpy = array_to_numpy  # type: ignore[method-assign]
    Array.from_numpy_ndarray = staticmethod(array_from_numpy)  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Put Flower's own conversions back (tests compare the two)."""
    for name in list(_ORIGINAL):
        setattr(Array, name, _ORIGINAL.pop(name))
