"""Minimal safetensors reader/writer on numpy, written from the format description:

  bytes 0..7   N, unsigned 64-bit little-endian: length of the header
  bytes 8..8+N UTF-8 JSON object {name: {"dtype": "F32", "shape": [..], "data_offsets": [a, b]}}
               plus an optional "__metadata__": {str: str}; padded with spaces to a multiple of 8
  then         the data buffer: each tensor's raw little-endian C-order bytes at [a, b) relative
               to the buffer start, tensors packed with no holes and no overlap.
Byte order is converted to little-endian on write and back to native on read. BF16 and the
F8 types are not supported (numpy has no such dtypes).
"""
import json
import struct

import numpy as np

_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_,
}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def save_file(tensors, path, metadata=None):
    """tensors: {name: numpy array (or anything np.asarray takes)}; written in sorted name
    order. metadata: {str: str} or None."""
    header, chunks, offset = {}, [], 0
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("safetensors metadata must map str to str")
        header["__metadata__"] = dict(metadata)
    for name in sorted(tensors):
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved")
        a = np.asarray(tensors[name])
        native = a.dtype.newbyteorder("=")
        if native not in _NAMES:
            raise TypeError("%s: unsupported dtype %s" % (name, a.dtype))
        raw = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _NAMES[native], "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in chunks:
            f.write(raw)


def load_file(path, with_metadata=False):
    """-> {name: numpy array} (and the metadata dict when with_metadata). Raises ValueError
    naming the file and the reason for a malformed file."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError("%s: too short for a safetensors header" % path)
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError("%s: header length %d runs past the end of the file (%d bytes)" % (path, n, len(blob)))
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError("%s: header is not valid JSON: %s" % (path, e))
    data = memoryview(blob)[8 + n:]
    metadata = header.pop("__metadata__", None) or {}
    out, spans = {}, []
    for name, info in header.items():
        dt = _DTYPES.get(info.get("dtype"))
        if dt is None:
            raise ValueError("%s: tensor %s has unsupported dtype %r" % (path, name, info.get("dtype")))
        shape = tuple(info["shape"])
        a, b = info["data_offsets"]
        count = int(np.prod(shape, dtype=np.int64))
        if not 0 <= a <= b <= len(data) or b - a != count * np.dtype(dt).itemsize:
            raise ValueError("%s: tensor %s has bad data_offsets [%d, %d] for shape %s" % (path, name, a, b, shape))
        out[name] = np.frombuffer(data[a:b], dtype=np.dtype(dt).newbyteorder("<")).astype(dt).reshape(shape)
        spans.append((a, b))
    end = 0
    for a, b in sorted(spans):
        if a != end:
            raise ValueError("%s: data buffer has a hole or overlap at byte %d" % (path, a))
        end = b
    if end != len(data):
        raise ValueError("%s: %d trailing bytes after the last tensor" % (path, len(data) - end))
    return (out, metadata) if with_metadata else out
