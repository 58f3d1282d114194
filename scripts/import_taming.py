#!/usr/bin/python3
"""import_taming.py: a taming-transformers VQGAN checkpoint -> a vqc checkpoint (safetensors).

  /usr/bin/python3 scripts/import_taming.py last.ckpt vqgan_f16.safetensors [--table TABLE]
      [--n-embed 16384] [--keep-lpips | --drop-lpips | --lpips-out PATH] [--drop-discriminator]
      [--allow-missing] [--allow-unexpected] [--model MODEL.vq] [--step N] [--seed N] [--check-only]

Reads a Lightning .ckpt ({'state_dict': ...}) or a bare state_dict. The model's tensors
(encoder.*, decoder.*, quantize.embedding.weight, quant_conv.*, post_quant_conv.*,
loss.discriminator.main.* with its BatchNorm statistics) are checked, name and shape, against
the table and written under the same names. LPIPS (loss.perceptual_loss.*, frozen VGG16 +
lin0..4, the same in every taming checkpoint) is checked against LPIPS's layout and by default
written to a side file OUT.lpips.safetensors, so the model file holds exactly the model's
table; --keep-lpips keeps it in OUT, --drop-lpips discards it. Details: docs/pretrained.md.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vqc_ckpt import importer  # noqa: E402
from vqc_ckpt.table import LPIPS_PREFIX, lpips_table  # noqa: E402

PROG = "import_taming.py"
DISC_PREFIX = "loss.discriminator."


def add_arguments(p):
    p.add_argument("--n-embed", type=int, metavar="N",
                   help="codebook size for the default table (16384 for f16-16384); with --table, dump it with -D n_embed=N")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--keep-lpips", action="store_true", help="keep loss.perceptual_loss.* in OUT")
    g.add_argument("--drop-lpips", action="store_true", help="leave loss.perceptual_loss.* out")
    g.add_argument("--lpips-out", metavar="PATH", help="side file for LPIPS (default OUT.lpips.safetensors)")
    p.add_argument("--drop-discriminator", action="store_true", help="leave loss.discriminator.* out")


def lpips_side_path(out):
    stem = out[:-len(".safetensors")] if out.endswith(".safetensors") else out
    return stem + ".lpips.safetensors"


def build_parts(args, sd, info):
    if args.n_embed is not None and args.table:
        raise ValueError("--n-embed changes the default table only; dump your table with `vqc --dump=params "
                         "-D n_embed=%d`" % args.n_embed)
    table, table_src = importer.choose_table(args, "taming", n_embed=args.n_embed)
    model = {n: t for n, t in sd.items() if not n.startswith(LPIPS_PREFIX)}
    lpips = {n: t for n, t in sd.items() if n.startswith(LPIPS_PREFIX)}
    table = {n: s for n, s in table.items() if not n.startswith(LPIPS_PREFIX)}   # checked as its own part
    parts = []
    if args.drop_discriminator:
        disc = {n: model.pop(n) for n in list(model) if n.startswith(DISC_PREFIX)}
        table = {n: s for n, s in table.items() if not n.startswith(DISC_PREFIX)}
        parts.append(importer.Part("discriminator", disc, None, None, {}))
    if not lpips:
        lp_state = "absent"
    elif args.drop_lpips:
        lp_state = "dropped"
    elif args.keep_lpips:
        lp_state = "kept"
    else:
        lp_state = "side file " + os.path.basename(args.lpips_out or lpips_side_path(args.out))
    extra = {"source_kind": "taming-transformers VQModel", "table": os.path.basename(table_src), "lpips": lp_state,
             "discriminator": "dropped" if args.drop_discriminator else "kept"}
    md = importer.base_metadata(args, PROG, args.ckpt, info, extra)
    if args.keep_lpips and lpips:
        model.update(lpips)
        table.update(lpips_table())
    parts.insert(0, importer.Part("model", model, table, args.out, md))
    if lpips and not args.keep_lpips:
        dest = None if args.drop_lpips else (args.lpips_out or lpips_side_path(args.out))
        lmd = {"content": "LPIPS VGG16 weights (frozen)", "prefix": LPIPS_PREFIX,
               "imported_from": os.path.basename(args.ckpt), "importer": PROG}
        parts.append(importer.Part("lpips", lpips, None if args.drop_lpips else lpips_table(), dest, lmd))
    elif not lpips:
        sys.stderr.write("%s: note: no %s* tensors in the checkpoint (no LPIPS weights to import; see "
                         "import_lpips.py)\n" % (args.ckpt, LPIPS_PREFIX))
    return parts


def main(argv=None):
    return importer.run(PROG, argv, build_parts, __doc__.split("\n\n")[0], add_arguments)


if __name__ == "__main__":
    sys.exit(main())
