"""Reading PyTorch checkpoints (.pt, .ckpt) into {name: torch.Tensor}.

torch.load unpickles: by default it imports and calls whatever the file names, so a Lightning
checkpoint needs pytorch_lightning installed (its `callbacks` entry holds ModelCheckpoint
objects) and a hostile file can run code. Here the unpickler resolves only an allow-list
(torch's tensor/storage rebuilders, plain containers, numpy scalars); every other class
becomes an inert placeholder that records its arguments and is never imported. Tensors load
on the CPU. (torch 1.13's torch.load ignores its pickle_module argument, so there the file is
read through torch.serialization's own zip/legacy readers with our unpickler.)

Layouts accepted (`unwrap`): Lightning / taming {'state_dict': {...}, 'global_step': ...},
{'model': {...}} (rosinality's sample.py convention), a bare state_dict; a 'module.' prefix on
every key (DataParallel / DDP) is removed.
"""
import collections
import io
import pickle
import types

import torch

_ALLOWED = {
    ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "dict"), ("builtins", "list"),
    ("builtins", "tuple"), ("builtins", "int"), ("builtins", "float"), ("builtins", "complex"),
    ("builtins", "bool"), ("builtins", "str"), ("builtins", "bytes"), ("builtins", "bytearray"),
    ("builtins", "slice"), ("builtins", "range"), ("_codecs", "encode"),
    ("torch", "Size"), ("torch", "device"), ("torch", "Tensor"), ("torch.nn.parameter", "Parameter"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("numpy", "dtype"), ("numpy", "ndarray"), ("numpy.core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
}
_TORCH_DTYPES = {"float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"}


class Placeholder:
    """Stands for an object of a class the loader refused to import; keeps what it was given."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state):
        self.state = state


class CheckpointError(ValueError):
    pass


def _make_pickle_module(placeholders):
    cache = {}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if ((module, name) in _ALLOWED
                    or (module == "torch._utils" and name.startswith("_rebuild_"))
                    or (module == "torch" and name in _TORCH_DTYPES)):
                return super().find_class(module, name)
            key = module + "." + name
            placeholders.add(key)
            if key not in cache:
                cache[key] = type(name, (Placeholder,), {"__module__": module})
            return cache[key]

    def load(f, **kwargs):
        return Unpickler(f, **kwargs).load()

    return types.SimpleNamespace(__name__="vqc_ckpt.restricted_pickle", Unpickler=Unpickler, load=load)


_honored = []


def _torch_honors_pickle_module():
    """torch 1.13's torch.load ignores pickle_module unless weights_only (it sets
    pickle_module = pickle), which would let the file's globals through; probe it once."""
    if not _honored:
        seen = []

        class Probe(pickle.Unpickler):
            def find_class(self, module, name):
                seen.append(name)
                return super().find_class(module, name)

        buf = io.BytesIO()
        torch.save({"x": torch.zeros(1)}, buf)
        buf.seek(0)
        torch.load(buf, map_location="cpu", pickle_module=types.SimpleNamespace(
            __name__="probe", Unpickler=Probe, load=lambda f, **kw: Probe(f, **kw).load()))
        _honored.append(bool(seen))
    return _honored[0]


def _torch_load(path, module):
    if _torch_honors_pickle_module():
        return torch.load(path, map_location="cpu", pickle_module=module)
    # What torch.load does for a file (zip or legacy format), with our unpickler.
    ser = torch.serialization
    with open(path, "rb") as f:
        if ser._is_zipfile(f):
            with ser._open_zipfile_reader(f) as z:
                return ser._load(z, "cpu", module, encoding="utf-8")
        return ser._legacy_load(f, "cpu", module, encoding="utf-8")


def load_checkpoint(path):
    """-> (object, sorted list of placeholder class names). CheckpointError for an unreadable file."""
    placeholders = set()
    try:
        obj = _torch_load(path, _make_pickle_module(placeholders))
    except FileNotFoundError:
        raise CheckpointError("%s: no such file" % path)
    except IsADirectoryError:
        raise CheckpointError("%s: is a directory, not a checkpoint file" % path)
    except PermissionError:
        raise CheckpointError("%s: permission denied" % path)
    except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError, ... for bad files
        raise CheckpointError("%s: not a readable PyTorch checkpoint: %s: %s" % (path, type(e).__name__, e))
    return obj, sorted(placeholders)


def _is_state_dict(d):
    return isinstance(d, dict) and len(d) > 0 and all(isinstance(k, str) for k in d) \
        and any(torch.is_tensor(v) for v in d.values())


def unwrap(obj, path):
    """-> (OrderedDict name -> tensor, info dict: layout, global_step, epoch, stripped prefix).
    Non-tensor entries inside the state_dict are an error naming them."""
    info = {}
    if isinstance(obj, dict) and _is_state_dict(obj.get("state_dict")):
        sd, info["layout"] = obj["state_dict"], "lightning {'state_dict': ...}"
        for k in ("global_step", "epoch"):
            if isinstance(obj.get(k), int):
                info[k] = obj[k]
    elif isinstance(obj, dict) and _is_state_dict(obj.get("model")):
        sd, info["layout"] = obj["model"], "{'model': ...}"
    elif _is_state_dict(obj):
        sd, info["layout"] = obj, "bare state_dict"
    else:
        keys = ", ".join(sorted(str(k) for k in obj)) if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError("%s: no state_dict found (expected a dict of tensors, or one under 'state_dict' or "
                              "'model'; top level: %s)" % (path, keys or "empty dict"))
    bad = sorted(k for k, v in sd.items() if not torch.is_tensor(v))
    if bad:
        raise CheckpointError("%s: %d state_dict entries are not tensors: %s" % (path, len(bad), ", ".join(bad)))
    if all(k.startswith("module.") for k in sd):
        sd = collections.OrderedDict((k[len("module."):], v) for k, v in sd.items())
        info["stripped_prefix"] = "module."
    return collections.OrderedDict(sd), info
