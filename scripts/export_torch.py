#!/usr/bin/python3
"""export_torch.py: vqc checkpoint(s) (safetensors) -> a PyTorch state_dict file (.pt / .ckpt).

  /usr/bin/python3 scripts/export_torch.py IN.safetensors [MORE.safetensors ...] OUT.pt [--lightning]
      [--include-optim]

Tensors keep their reference names, shapes and stored dtype (F32 -> float32, I64 -> int64,
F16/BF16 -> float16/bfloat16), in file order, so `model.load_state_dict(torch.load(OUT))`
works on the reference model. Several inputs are merged (a name in two inputs is an error): e.g.
a taming model file and its LPIPS side file. --lightning writes {'state_dict': ..., 'global_step':
STEP from __metadata__} as taming's Lightning checkpoints are laid out (taming's
init_from_ckpt reads only 'state_dict'). vqc optimizer state (optim.*: flat slabs, no
PyTorch equivalent) is left out unless --include-optim. Written atomically (OUT.tmp.<pid>, rename).
"""
import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from vqc_ckpt import check, st_io  # noqa: E402

PROG = "export_torch.py"
_TORCH = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "I64": torch.int64, "I32": torch.int32,
          "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}


def to_torch(name, arr, dt, path):
    if dt == "BF16":
        return torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
    if dt not in _TORCH:
        raise ValueError("%s: %s has dtype %s, which PyTorch 1.13 has no tensor type for" % (path, name, dt))
    return torch.from_numpy(arr)


def main(argv=None):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("inputs", nargs="+", metavar="IN.safetensors")
    p.add_argument("out", metavar="OUT.pt")
    p.add_argument("--lightning", action="store_true", help="wrap as {'state_dict': ..., 'global_step': ...}")
    p.add_argument("--include-optim", action="store_true", help="keep optim.* tensors")
    args = p.parse_args(argv)
    sd, origin, skipped, step = collections.OrderedDict(), {}, [], None
    try:
        for path in args.inputs:
            tensors, meta = st_io.read(path)
            if step is None and meta.get("step", "").isdigit():
                step = int(meta["step"])
            for name, (arr, dt) in tensors.items():
                if name.startswith("optim.") and not args.include_optim:
                    skipped.append(name)
                    continue
                if name in sd:
                    raise ValueError("%s is in both %s and %s" % (name, origin[name], path))
                sd[name], origin[name] = to_torch(name, arr, dt, path), path
        obj = {"state_dict": sd, "global_step": step or 0} if args.lightning else sd
        tmp = "%s.tmp.%d" % (args.out, os.getpid())
        try:
            torch.save(obj, tmp)
            os.replace(tmp, args.out)
        except (OSError, RuntimeError) as e:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise ValueError("writing %s: %s" % (args.out, e))
    except (st_io.StError, ValueError) as e:
        sys.stderr.write("%s: error: %s\n" % (PROG, e))
        return 1
    n = sum(t.numel() for t in sd.values())
    print("%s: %s -> %s%s: %d tensors, %s values, %s" % (
        PROG, " + ".join(args.inputs), args.out, " {'state_dict': ...}" if args.lightning else "", len(sd),
        format(n, ","), check.human_bytes(os.path.getsize(args.out))))
    if skipped:
        print("  left out %d optimizer tensors (%s); --include-optim keeps them" % (len(skipped), ", ".join(skipped)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
