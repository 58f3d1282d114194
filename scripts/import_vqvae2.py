#!/usr/bin/python3
"""import_vqvae2.py: a rosinality/vq-vae-2-pytorch VQVAE checkpoint -> a vqc checkpoint (safetensors).

  /usr/bin/python3 scripts/import_vqvae2.py vqvae_560.pt vqvae2.safetensors [--table TABLE]
      [--allow-missing] [--allow-unexpected] [--model MODEL.vq] [--step N] [--seed N] [--check-only]

Reads a bare state_dict (what rosinality's train_vqvae.py saves), {'model': ...}, or either with
DataParallel's 'module.' prefix. Every tensor keeps its name and layout: enc_b.*, enc_t.*,
quantize_conv_{t,b}.*, quantize_{t,b}.embed (dim, n_embed) with the EMA buffers cluster_size
(n_embed,) and embed_avg (dim, n_embed), dec_t.*, upsample_t.*, dec.*; ConvTranspose2d weights
stay (in, out, k, k). Checked, name and shape, against the table (default tests/ref/vqvae2_tensors.txt).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vqc_ckpt import importer  # noqa: E402

PROG = "import_vqvae2.py"


def build_parts(args, sd, info):
    table, table_src = importer.choose_table(args, "vqvae2")
    md = importer.base_metadata(args, PROG, args.ckpt, info, {"source_kind": "rosinality VQVAE",
                                                             "table": os.path.basename(table_src)})
    return [importer.Part("model", dict(sd), table, args.out, md)]


def main(argv=None):
    return importer.run(PROG, argv, build_parts, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main())
