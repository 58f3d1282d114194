"""Comparing checkpoint tensors with a table, and converting them for safetensors.

Every difference is reported by name, sorted, never truncated: missing (in the table, not in
the checkpoint), unexpected (in the checkpoint, not in the table, with a "did you mean" when a
missing name is close), wrong shape (always fatal). Missing and unexpected are fatal unless
allowed; allowed ones are still printed.
"""
import difflib

import numpy as np
import torch

from .table import shape_str

# torch dtype -> (safetensors dtype stored, numpy dtype); floating types all become F32.
_STORE = {
    torch.float32: ("F32", np.float32), torch.float16: ("F32", np.float32), torch.bfloat16: ("F32", np.float32),
    torch.float64: ("F32", np.float32), torch.int64: ("I64", np.int64), torch.int32: ("I32", np.int32),
    torch.uint8: ("U8", np.uint8),   # taming ActNorm's `initialized`
}


class Report:
    def __init__(self, missing, unexpected, wrong_shape):
        self.missing, self.unexpected, self.wrong_shape = missing, unexpected, wrong_shape


def compare(shapes, table):
    """shapes: {name: shape tuple} from the checkpoint; table: {name: shape tuple}."""
    missing = sorted(n for n in table if n not in shapes)
    unexpected = sorted(n for n in shapes if n not in table)
    wrong = sorted(n for n in shapes if n in table and tuple(shapes[n]) != tuple(table[n]))
    return Report(missing, unexpected, wrong)


def _plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def print_report(rep, shapes, table, label, allow_missing, allow_unexpected, out):
    """Prints every difference; -> True when the import may go on."""
    if rep.missing:
        out.write("%s: %s (listed in the table, not in the checkpoint)%s:\n"
                  % (label, _plural(len(rep.missing), "missing tensor"), ", allowed" if allow_missing else ""))
        for n in rep.missing:
            out.write("  missing     %s %s\n" % (n, shape_str(table[n])))
    if rep.unexpected:
        out.write("%s: %s (in the checkpoint, not in the table)%s:\n"
                  % (label, _plural(len(rep.unexpected), "unexpected tensor"),
                     ", allowed: left out of the output" if allow_unexpected else ""))
        for n in rep.unexpected:
            near = difflib.get_close_matches(n, rep.missing, n=1, cutoff=0.8)
            out.write("  unexpected  %s %s%s\n" % (n, shape_str(shapes[n]),
                                                  "  (did you mean %s?)" % near[0] if near else ""))
    if rep.wrong_shape:
        out.write("%s: %s:\n" % (label, _plural(len(rep.wrong_shape), "tensor with the wrong shape")))
        for n in rep.wrong_shape:
            out.write("  wrong shape %s: %s in the checkpoint, the table says %s\n"
                      % (n, shape_str(shapes[n]), shape_str(table[n])))
    return not rep.wrong_shape and (allow_missing or not rep.missing) and (allow_unexpected or not rep.unexpected)


def to_numpy(name, t, label):
    """torch tensor -> (C-contiguous numpy array, safetensors dtype, source dtype if converted).
    Floating tensors become F32 (F16/BF16 exactly; F64 rounds to nearest); int64/int32/uint8 stay."""
    if t.dtype not in _STORE:
        raise ValueError("%s: %s has dtype %s, which a vqc checkpoint cannot hold" % (label, name, t.dtype))
    st, npdt = _STORE[t.dtype]
    t = t.detach().cpu()
    converted = None
    if t.dtype != torch.float32 and st == "F32":
        converted = str(t.dtype).replace("torch.", "")
        t = t.to(torch.float32)
    return t.contiguous().numpy().astype(npdt, copy=False), st, converted


def count(shape):
    n = 1
    for d in shape:
        n *= int(d)
    return n


def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0
