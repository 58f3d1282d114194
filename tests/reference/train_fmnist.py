#!/usr/bin/python3
"""PyTorch training reference for vqgan_fmnist without the GAN: the numbers vqc's own
training run is compared with.

  data   Fashion-MNIST train split, x = pixel/255*2-1, padded 28 -> 32 with -1 (vqref.fmnist)
  model  vqgan_fmnist VQModel (no loss module), torch.manual_seed(seed) before building it
  loss   mean |x - xrec| + qloss, qloss = the VectorQuantizer loss with beta 0.25:
           --legacy 0 (default): beta on the commitment term, as the brief and the VQ-VAE
                                 paper have it: 0.25 mean((sg zq - z)^2) + mean((zq - sg z)^2)
           --legacy 1:           taming's default (beta on the codebook term)
         (same value either way; the gradients differ)
  optim  Adam lr 2e-4, betas (0.5, 0.9), eps 1e-8, no weight decay; batch 32
  order  each epoch a permutation from numpy default_rng(seed + epoch) (--no-shuffle: file order);
         a final partial batch is dropped
  eval   first 2000 test images, no_grad: per-image PSNR = 10 log10(1 / mse) with x and xrec
         mapped to [0, 1] ((v + 1) / 2, xrec clamped), averaged over images, on the full 32x32
         input (psnr) and on the 28x28 centre (psnr28); codebook usage (distinct codes over
         all 2000 x 64 positions) and perplexity exp(-sum p log p) of the code histogram.
Roughly 1 s per step on 2 cores; it prints one line per --log-every steps and an eval line
per --eval-every steps (and at the end). --save writes the final weights as safetensors.

Usage: /usr/bin/python3 tests/reference/train_fmnist.py --steps 3000 [--legacy 0|1] [--seed 0]
"""
import argparse
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from vqref.configs import build  # noqa: E402
from vqref.taming_quantize import codebook_stats  # noqa: E402
from vqref import fmnist, safetensors_np  # noqa: E402


@torch.no_grad()
def evaluate(model, x_test, n_embed, batch=200):
    model.eval()
    psnr, psnr28, codes = [], [], []
    for i in range(0, x_test.shape[0], batch):
        x = x_test[i:i + batch]
        s = model.stages(x)
        a = (x + 1) / 2
        b = ((s["xrec"] + 1) / 2).clamp(0, 1)
        mse = ((a - b) ** 2).flatten(1).mean(1).clamp_min(1e-10)
        mse28 = ((a - b)[:, :, 2:30, 2:30] ** 2).flatten(1).mean(1).clamp_min(1e-10)
        psnr.append(10 * torch.log10(1 / mse))
        psnr28.append(10 * torch.log10(1 / mse28))
        codes.append(s["indices"].reshape(-1))
    model.train()
    used, perplexity = codebook_stats(torch.cat(codes), n_embed)
    return float(torch.cat(psnr).mean()), float(torch.cat(psnr28).mean()), used, perplexity


def main(argv=None):
    ap = argparse.ArgumentParser(description="vqgan_fmnist training reference (no GAN)")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--legacy", type=int, choices=(0, 1), default=0)
    ap.add_argument("--no-shuffle", action="store_true")
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-images", type=int, default=2000)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save", help="write final weights (safetensors, reference names) here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    train_images, _ = fmnist.load("train")
    test_images, _ = fmnist.load("test")
    x_train = torch.from_numpy(fmnist.to_model_input(train_images))
    x_test = torch.from_numpy(fmnist.to_model_input(test_images[:args.eval_images]))

    torch.manual_seed(args.seed)
    model = build("vqgan_fmnist", with_loss=False, legacy=bool(args.legacy))
    model.train()
    n_embed = model.quantize.n_e
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.5, 0.9))
    per_epoch = x_train.shape[0] // args.batch
    print("vqgan_fmnist: %d parameters, legacy=%d, %d steps of batch %d (%d per epoch)"
          % (sum(p.numel() for p in model.parameters()), args.legacy, args.steps, args.batch, per_epoch))

    order, t0 = None, time.time()
    for step in range(args.steps):
        epoch, k = divmod(step, per_epoch)
        if k == 0:
            n = x_train.shape[0]
            order = np.arange(n) if args.no_shuffle else np.random.default_rng(args.seed + epoch).permutation(n)
        x = x_train[torch.from_numpy(order[k * args.batch:(k + 1) * args.batch])]
        xrec, qloss = model(x)
        rec = torch.mean(torch.abs(x - xrec))
        loss = rec + qloss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if not math.isfinite(loss.item()):
            print("step %d: loss is %s, stopping" % (step + 1, loss.item()))
            return 1
        if (step + 1) % args.log_every == 0 or step == 0:
            print("step %d loss %.5f rec %.5f qloss %.5f (%.2f s/step)"
                  % (step + 1, loss.item(), rec.item(), qloss.item(), (time.time() - t0) / (step + 1)), flush=True)
        if args.eval_every and (step + 1) % args.eval_every == 0 and step + 1 != args.steps:
            psnr, psnr28, used, ppl = evaluate(model, x_test, n_embed)
            print("eval step %d: psnr %.3f dB psnr28 %.3f dB codes used %d/%d perplexity %.1f"
                  % (step + 1, psnr, psnr28, used, n_embed, ppl), flush=True)
    psnr, psnr28, used, ppl = evaluate(model, x_test, n_embed)
    print("final step %d: psnr %.3f dB psnr28 %.3f dB codes used %d/%d perplexity %.1f (%.1f s)"
          % (args.steps, psnr, psnr28, used, n_embed, ppl, time.time() - t0))
    if args.save:
        safetensors_np.save_file({n: t.detach().numpy() for n, t in model.state_dict().items()}, args.save,
                                 metadata={"model": "vqgan_fmnist", "steps": str(args.steps),
                                           "legacy": str(args.legacy), "seed": str(args.seed)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
