"""safetensors on numpy: an atomic writer with the runtime's layout, and a strict reader.

Format (docs/runtime-checkpoint.md): u64 LE header length N, N bytes of JSON
{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}
padded with spaces to a multiple of 8, then the data buffer, tiled exactly by the tensors.

The writer lays files out as runtime/safetensors_write.c does: metadata first, tensors in the
given order in the header, data ordered 8-byte dtypes first, then 4-, 2-, 1-byte ones, so every
tensor is aligned to its element size; it writes PATH.tmp.<pid>, fsyncs, renames over PATH and
fsyncs the directory. The reader checks what the runtime's reader checks that matters for a
converter (entry keys, known dtype, byte sizes, exact tiling); it is not the hostile-file
validator (runtime/safetensors.c is).
"""
import collections
import json
import os
import struct
import sys

import numpy as np

if sys.byteorder != "little":
    raise ImportError("vqc_ckpt.st_io assumes a little-endian host")

# dtype name -> numpy dtype; BF16 travels as raw uint16 (numpy has no bfloat16).
DTYPES = collections.OrderedDict([
    ("F64", np.float64), ("F32", np.float32), ("F16", np.float16), ("BF16", np.uint16),
    ("I64", np.int64), ("I32", np.int32), ("I16", np.int16), ("I8", np.int8),
    ("U64", np.uint64), ("U32", np.uint32), ("U16", np.uint16), ("U8", np.uint8), ("BOOL", np.bool_),
])
_NAME_OF = {np.dtype(v): k for k, v in DTYPES.items() if k != "BF16"}
HEADER_LIMIT = 100000000


class StError(ValueError):
    pass


def dtype_name(arr):
    try:
        return _NAME_OF[arr.dtype]
    except KeyError:
        raise StError("numpy dtype %s has no safetensors name" % arr.dtype)


def write(path, tensors, metadata=None):
    """tensors: list of (name, numpy array, dtype name or None for the array's own).
    metadata: {str: str}. Atomic: PATH is replaced only by a complete file."""
    names = [t[0] for t in tensors]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise StError("%s: duplicate tensor names: %s" % (path, ", ".join(dup)))
    arrays = []
    for name, arr, dt in tensors:
        if not name or name == "__metadata__":
            raise StError("%s: invalid tensor name %r" % (path, name))
        arr = np.asarray(arr)
        arr = arr if arr.flags.c_contiguous else arr.copy(order="C")   # (not ascontiguousarray: it makes 0-d 1-d)
        arrays.append((name, arr, dt or dtype_name(arr)))
    order = sorted(range(len(arrays)), key=lambda i: -arrays[i][1].dtype.itemsize)  # stable: 8, 4, 2, 1
    offsets, pos = {}, 0
    for i in order:
        offsets[i] = (pos, pos + arrays[i][1].nbytes)
        pos += arrays[i][1].nbytes
    header = collections.OrderedDict()
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise StError("%s: metadata must map str to str (%r: %r)" % (path, k, v))
        header["__metadata__"] = dict(metadata)
    for i, (name, arr, dt) in enumerate(arrays):
        header[name] = {"dtype": dt, "shape": [int(d) for d in arr.shape], "data_offsets": list(offsets[i])}
    hjson = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(hjson)))
            f.write(hjson)
            for i in order:
                f.write(arrays[i][1].reshape(-1).view(np.uint8).data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise StError("writing %s: %s (previous %s left unchanged)" % (path, e.strerror or e, path))
    dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return 8 + len(hjson) + pos


def read(path):
    """-> (OrderedDict name -> (numpy array, dtype name) in header order, metadata dict).
    BF16 arrays come back as uint16 bit patterns. StError names the file and the reason."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise StError("%s: %s" % (path, e.strerror or e))
    if len(blob) < 8:
        raise StError("%s: %d bytes, too short for a safetensors file" % (path, len(blob)))
    (n,) = struct.unpack("<Q", blob[:8])
    if n > HEADER_LIMIT or 8 + n > len(blob):
        raise StError("%s: header length %d is past the end of the file or the %d-byte limit (not a safetensors "
                      "file?)" % (path, n, HEADER_LIMIT))
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise StError("%s: header is not valid JSON: %s" % (path, e))
    if not isinstance(header, dict):
        raise StError("%s: header is not a JSON object" % path)
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise StError("%s: __metadata__ is not an object of strings" % path)
    data = memoryview(blob)[8 + n:]
    out, spans = collections.OrderedDict(), []
    for name, e in header.items():
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            raise StError("%s: %s: entry must have exactly dtype, shape, data_offsets" % (path, name))
        dt = DTYPES.get(e["dtype"])
        if dt is None:
            raise StError("%s: %s: unsupported dtype %r" % (path, name, e["dtype"]))
        shape, offs = e["shape"], e["data_offsets"]
        if (not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape)
                or not isinstance(offs, list) or len(offs) != 2 or not all(isinstance(o, int) for o in offs)):
            raise StError("%s: %s: malformed shape or data_offsets" % (path, name))
        a, b = offs
        count = 1
        for d in shape:
            count *= d
        if not 0 <= a <= b <= len(data) or b - a != count * np.dtype(dt).itemsize:
            raise StError("%s: %s: data_offsets [%d, %d] do not fit shape %s %s" % (path, name, a, b, shape, e["dtype"]))
        out[name] = (np.frombuffer(data[a:b], dtype=dt).reshape(shape).copy(), e["dtype"])
        spans.append((a, b, name))
    end = 0
    for a, b, name in sorted(spans):
        if a != end:
            raise StError("%s: %s: data buffer has a %s at byte %d" % (path, name, "hole" if a > end else "overlap", a))
        end = b
    if end != len(data):
        raise StError("%s: %d bytes after the last tensor" % (path, len(data) - end))
    return out, meta


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key %r" % next(k for k in keys if keys.count(k) > 1))
    return collections.OrderedDict(pairs)
