#!/usr/bin/python3
"""reconstruct_ref.py: a checkpoint saved by the PyTorch reference, imported with the project's
importer, reconstructed by a generated program, must give PyTorch's image (tests/scripts/parity.sh).

  /usr/bin/python3 tests/parity/reconstruct_ref.py KIND PROGRAM TABLE MODEL.vq WORKDIR
    KIND     vqgan_fmnist (taming layout: torch.save({'state_dict': sd}), import_taming.py) or
             vqvae2 (rosinality layout: torch.save(sd), import_vqvae2.py; the program generated
             with -D resolution=32)
    PROGRAM  the generated driver program; TABLE its `vqc --dump=params` output (same -D values)

Steps: seeded reference model (torch.manual_seed(7)) -> checkpoint -> importer --table TABLE
--model MODEL.vq -> `PROGRAM reconstruct --ckpt ... IN.png -o OUT.png` on 4 Fashion-MNIST test
images (zero-padded 28 -> 32 here, so no resizing or padding happens in either program; RGB for
VQ-VAE-2 from three consecutive images as R, G, B) -> the same PNG bytes through PyTorch, eval mode,
with the program's conversions: x = lo + v * float32((hi - lo) / 255) on input and
u8 = floor((xrec - lo) * float32(255 / (hi - lo)) + 0.5) clamped to [0, 255] on output.

Passes when every pixel is within 1 of PyTorch's (1/255): two correct float32 computations differ
by ~1e-6, and a value that lands that close to a rounding boundary (k + 0.5) / 255 rounds to the
neighbouring level; anything larger (a different code, a wrong layer) moves pixels by more.
Prints the number of off-by-one pixels and the largest float difference at the 8-bit scale.
"""
import gzip
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from vqref.configs import build  # noqa: E402
from vqref import safetensors_np  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
N_IMAGES = 4


def fmnist_images(n):
    """The first n test images, (n, 32, 32) uint8, zero-padded 28 -> 32 (2 px each side)."""
    with gzip.open(FMNIST, "rb") as f:
        raw = f.read(16 + n * 28 * 28)
    img = np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, 28, 28)
    return np.pad(img, ((0, 0), (2, 2), (2, 2)))


def to_u8(v):
    """runtime/image.c to_u8: round half up, clamp; v at the 8-bit scale."""
    return np.clip(np.floor(v + np.float32(0.5)), 0, 255).astype(np.uint8)


def fix_import(path, program, work):
    """Three gaps between the importers and the generated program's --ckpt (reported; see
    docs/parity.md), bridged here from a fresh `PROGRAM init` checkpoint, each with a printed note,
    so that the reconstruction itself can be compared:
    - model_hash: the importer's --model hash is FNV-1a of the .vq bytes, but vqc's also folds in
      every param (compiler/emit.c), so --ckpt (and --init) refuse the file;
    - dtypes: BatchNorm num_batches_tracked is written as I64, the program's table says F32;
    - model state (codebook usage counters) that --ckpt requires is not written by the importer:
      a fresh model's (zeros) is added. None of these touch a weight."""
    init = os.path.join(work, "init.safetensors")
    r = subprocess.run([program, "init", "--out", init], capture_output=True, text=True)
    if r.returncode:
        sys.exit("reconstruct_ref: %s init failed: %s" % (program, r.stderr))
    fresh, fmeta = safetensors_np.load_file(init, with_metadata=True)
    tensors, meta = safetensors_np.load_file(path, with_metadata=True)
    if meta.get("model_hash") != fmeta["model_hash"]:
        print("reconstruct_ref: note: importer bound model_hash %s, the program's is %s: rebound (importer gap)"
              % (meta.get("model_hash"), fmeta["model_hash"]))
        meta["model_hash"] = fmeta["model_hash"]
    cast = [n for n, t in tensors.items() if n in fresh and fresh[n].dtype != t.dtype]
    if cast:
        print("reconstruct_ref: note: %s cast to the program's dtype (importer gap)" % ", ".join(cast))
        tensors.update({n: tensors[n].astype(fresh[n].dtype) for n in cast})
    state = [n for n in fresh if n not in tensors and not n.startswith("optim.")]
    if state:
        print("reconstruct_ref: note: model state %s added from a fresh model (importer gap)" % ", ".join(state))
        tensors.update({n: fresh[n] for n in state})
    safetensors_np.save_file(tensors, path, metadata=meta)


def main():
    kind, program, table, model_vq, work = sys.argv[1:6]
    torch.manual_seed(7)
    if kind == "vqgan_fmnist":
        model = build("vqgan_fmnist", with_loss=True, build_lpips=False)
        ckpt = os.path.join(work, "ref.ckpt")
        torch.save({"state_dict": model.state_dict()}, ckpt)
        importer, C = "import_taming.py", 1
    elif kind == "vqvae2":
        model = build("vqvae2")
        ckpt = os.path.join(work, "ref.pt")
        torch.save(model.state_dict(), ckpt)
        importer, C = "import_vqvae2.py", 3
    else:
        sys.exit("reconstruct_ref: unknown KIND %s" % kind)
    model.eval()
    out = os.path.join(work, kind + ".safetensors")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", importer), ckpt, out, "--table", table,
                        "--model", model_vq], capture_output=True, text=True)
    if r.returncode:
        sys.exit("reconstruct_ref: %s failed:\n%s%s" % (importer, r.stdout, r.stderr))
    fix_import(out, program, work)

    imgs = fmnist_images(N_IMAGES * C)
    if C == 3:
        imgs = imgs.reshape(N_IMAGES, 3, 32, 32).transpose(0, 2, 3, 1)          # (n, 32, 32, 3)
    paths = []
    for i in range(N_IMAGES):
        p = os.path.join(work, "in%d.png" % i)
        Image.fromarray(imgs[i]).save(p)
        paths.append(p)
    rec = os.path.join(work, kind + "_rec.png")
    r = subprocess.run([program, "reconstruct", "--ckpt", out] + paths + ["-o", rec], capture_output=True, text=True)
    if r.returncode:
        sys.exit("reconstruct_ref: %s reconstruct failed:\n%s%s" % (program, r.stdout, r.stderr))
    ours = np.array(Image.open(rec))                                           # (32, n*32[, 3])

    lo, hi = np.float32(-1.0), np.float32(1.0)
    u8 = np.stack([np.array(Image.open(p)) for p in paths]).astype(np.float32)
    x = lo + u8 * np.float32((hi - lo) / np.float32(255))                      # (n, 32, 32[, C])
    x = x[:, None] if C == 1 else x.transpose(0, 3, 1, 2)
    with torch.no_grad():
        xr = model(torch.from_numpy(np.ascontiguousarray(x)))[0].numpy()       # (n, C, 32, 32)
    scaled = (xr - lo) * np.float32(np.float32(255) / (hi - lo))
    ref = to_u8(scaled)
    ref_row = np.concatenate(list(ref), axis=2)                                # (C, 32, n*32)
    ref_row = ref_row[0] if C == 1 else ref_row.transpose(1, 2, 0)
    if ours.shape != ref_row.shape:
        sys.exit("reconstruct_ref: FAIL %s: output %s, expected %s" % (kind, ours.shape, ref_row.shape))
    diff = np.abs(ours.astype(np.int32) - ref_row.astype(np.int32))
    # how close PyTorch's values sit to a rounding boundary where they differ
    srow = np.concatenate(list(scaled), axis=2)
    srow = srow[0] if C == 1 else srow.transpose(1, 2, 0)
    frac = np.abs(srow - np.floor(srow) - 0.5)[diff == 1]
    off = int((diff == 1).sum())
    ok = diff.max() <= 1
    print("reconstruct %s: %d images, %d pixels; max |ours - PyTorch| = %d/255, %d pixels off by one%s: %s"
          % (kind, N_IMAGES, diff.size, diff.max(), off,
             " (PyTorch's values there within %.2g of a rounding boundary)" % frac.max() if off else "",
             "ok" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
