#!/usr/bin/python3
"""import_lpips.py: torchvision VGG16 + LPIPS linear layers -> one LPIPS weights file (safetensors).

  /usr/bin/python3 scripts/import_lpips.py vgg16-397923af.pth vgg.pth lpips.safetensors
      [--prefix loss.perceptual_loss.] [--check-only]

VGG_PTH: torchvision's vgg16 state_dict; its conv layers features.N.{weight,bias} become
PREFIX + net.sliceK.N.{weight,bias} (LPIPS's slices: K=1 features 0-3, 2: 4-8, 3: 9-15,
4: 16-22, 5: 23-29); classifier.* (the ImageNet head) is not used by LPIPS and is left out.
LPIPS_PTH: LPIPS's vgg.pth (lin0..lin4.model.1.weight (1, C, 1, 1)), kept as PREFIX + name.
The ScalingLayer constants (scaling_layer.shift/scale (1, 3, 1, 1), buffers that neither
file holds) are added, so the output has exactly the 33 tensors of taming's
loss.perceptual_loss. Any other key, missing tensor or wrong shape is an error naming it.
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from vqc_ckpt import check, importer, st_io  # noqa: E402
from vqc_ckpt.table import (LPIPS_PREFIX, LPIPS_SCALE, LPIPS_SHIFT, VGG16_CONVS, lpips_table,  # noqa: E402
                            vgg_slice)
from vqc_ckpt.torchload import CheckpointError  # noqa: E402

PROG = "import_lpips.py"
_FEATURE = re.compile(r"^features\.(\d+)\.(weight|bias)$")


def map_vgg(sd, prefix):
    """-> ({new name: tensor}, [unmappable names], number of classifier tensors left out)."""
    out, bad, head = {}, [], 0
    for name, t in sd.items():
        m = _FEATURE.match(name)
        if m and int(m.group(1)) in VGG16_CONVS:
            i = int(m.group(1))
            out["%snet.slice%d.%d.%s" % (prefix, vgg_slice(i), i, m.group(2))] = t
        elif name.startswith("classifier."):
            head += 1
        else:
            bad.append(name)
    return out, bad, head


def map_lin(sd, prefix):
    out, bad = {}, []
    for name, t in sd.items():
        if re.match(r"^lin[0-4]\.model\.1\.weight$", name) or name in ("scaling_layer.shift", "scaling_layer.scale"):
            out[prefix + name] = t
        else:
            bad.append(name)
    return out, bad


def main(argv=None):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("vgg", metavar="VGG_PTH")
    p.add_argument("lpips", metavar="LPIPS_PTH")
    p.add_argument("out", metavar="OUT.safetensors")
    p.add_argument("--prefix", default=LPIPS_PREFIX, help="name prefix (default %(default)s, taming's)")
    p.add_argument("--check-only", action="store_true", help="check and summarize, write nothing")
    args = p.parse_args(argv)
    try:
        vgg, vinfo = importer.load(args.vgg)
        lin, linfo = importer.load(args.lpips)
        tensors, bad_v, head = map_vgg(vgg, args.prefix)
        lins, bad_l = map_lin(lin, args.prefix)
        tensors.update(lins)
        for key, value in (("scaling_layer.shift", LPIPS_SHIFT), ("scaling_layer.scale", LPIPS_SCALE)):
            tensors.setdefault(args.prefix + key, torch.tensor(value, dtype=torch.float32).view(1, 3, 1, 1))
        table = lpips_table(args.prefix)
        for path, bad in ((args.vgg, bad_v), (args.lpips, bad_l)):
            if bad:
                sys.stderr.write("%s: %d unexpected tensors (not a VGG16 conv layer / LPIPS linear layer):\n"
                                 % (path, len(bad)))
                for n in sorted(bad):
                    sys.stderr.write("  unexpected  %s\n" % n)
        shapes = {n: tuple(t.shape) for n, t in tensors.items()}
        ok = check.print_report(check.compare(shapes, table), shapes, table, "%s + %s" % (args.vgg, args.lpips),
                                False, False, sys.stderr)
        if bad_v or bad_l or not ok:
            return importer.error(PROG, "the weights do not match LPIPS's layout; nothing written")
        rows, converted = [], 0
        for n in table:
            arr, dt, conv = check.to_numpy(n, tensors[n], args.out)
            rows.append((n, arr, dt))
            converted += conv is not None
        md = {"content": "LPIPS VGG16 weights (frozen)", "prefix": args.prefix, "importer": PROG,
              "imported_from": "%s + %s" % (os.path.basename(args.vgg), os.path.basename(args.lpips))}
        nbytes = sum(a.nbytes for _, a, _ in rows)
        if not args.check_only:
            nbytes = st_io.write(args.out, rows, md)
        print("%s: %s + %s -> %s%s" % (PROG, args.vgg, args.lpips, args.out,
                                         " (not written: --check-only)" if args.check_only else ""))
        print("  %d tensors, %s values, %s; %d classifier.* tensors of %s left out%s"
              % (len(rows), format(sum(a.size for _, a, _ in rows), ","), check.human_bytes(nbytes), head,
                 os.path.basename(args.vgg), ", %d converted to F32" % converted if converted else ""))
        return 0
    except (CheckpointError, st_io.StError, ValueError) as e:
        return importer.error(PROG, str(e))


if __name__ == "__main__":
    sys.exit(main())
