#!/usr/bin/python3
"""e2e_fmnist_parity.py: vqc's generated vqgan_fmnist against the PyTorch reference model
(tests/reference/vqref, the architecture of tests/reference/train_fmnist.py) on the SAME weights.
Used by tests/scripts/e2e_fmnist.sh.

  step1 INIT.safetensors STEP1.safetensors METRICS.csv
      INIT is `vqgan_fmnist init` output, STEP1 the checkpoint after `train --init INIT --steps 1
      --batch 32 --limit 32` (the batch is the first 32 training images; the loss is a mean, so their
      order does not matter). Checks: the step-1 losses (total, rec, q_loss) and grad_norm in
      METRICS.csv equal PyTorch's on that batch (rel. 1e-4), and Adam's first update
      w1 - w0 = -lr g / (|g| + eps) has the sign of -PyTorch's gradient in >= 99.9% of the elements
      of every tensor (|g| > 1e-6 max|g|), except the attention k.bias tensors, whose exact gradient is
      zero (softmax is invariant to q.b added to every key) so both sides hold rounding noise.
  eval CKPT EVAL.json
      PyTorch's evaluate() (train_fmnist.py's: first 2000 test images, PSNR per image averaged) on
      vqc's weights must give vqc's `eval --limit 2000` PSNR and codes used (PSNR within 0.01 dB).
Exit 0 when every check passes; prints one line per check.
"""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from vqref import fmnist  # noqa: E402
from vqref.configs import build  # noqa: E402
import train_fmnist  # noqa: E402

fails = 0


def check(ok, what):
    global fails
    print(("ok    " if ok else "FAIL  ") + what)
    fails += not ok


def load(path):
    """float32 tensors of a safetensors file (the vqc checkpoint), by name."""
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    out = {}
    for k, v in h.items():
        if v["dtype"] != "F32":
            continue
        cnt = int(np.prod(v["shape"])) if v["shape"] else 1
        out[k] = torch.from_numpy(np.frombuffer(b, np.float32, cnt, 8 + n + v["data_offsets"][0]).reshape(v["shape"]).copy())
    return out


def model_from(weights):
    # legacy=False: beta on the commitment term, the e2e test's -D codebook_loss="corrected"
    model = build("vqgan_fmnist", with_loss=False, legacy=False)
    model.load_state_dict({k: weights[k] for k in model.state_dict()}, strict=True)
    return model


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-12)


def step1(init, after, metrics):
    w0, w1 = load(init), load(after)
    row = next(iter(__import__("csv").DictReader(open(metrics))))
    model = model_from(w0)
    model.train()
    train_images, _ = fmnist.load("train")
    x = torch.from_numpy(fmnist.to_model_input(train_images[:32]))
    xrec, qloss = model(x)
    rec = torch.mean(torch.abs(x - xrec))
    loss = rec + qloss
    loss.backward()
    gn = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters())))
    for name, ref in (("total", loss.item()), ("rec", rec.item()), ("q_loss", qloss.item()), ("grad_norm", gn)):
        got = float(row[name])
        check(rel(got, ref) < 1e-4, "step 1 %s: vqc %.7g, PyTorch %.7g" % (name, got, ref))
    worst, n_t = (float("inf"), ""), 0
    for name, p in model.named_parameters():
        if name.endswith("k.bias") and ".attn" in name:
            continue
        g = p.grad
        m = g.abs() > 1e-6 * g.abs().max()
        if not m.any():
            continue
        n_t += 1
        agree = (torch.sign(w0[name] - w1[name])[m] == torch.sign(g)[m]).double().mean().item()
        worst = min(worst, (agree, name))
    check(worst[0] >= 0.999, "Adam's first update has PyTorch's gradient sign in %d tensors (worst %s: %.4f)"
          % (n_t, worst[1], worst[0]))


def evaluate(ckpt, eval_json):
    e = json.load(open(eval_json))
    model = model_from(load(ckpt))
    test_images, _ = fmnist.load("test")
    x = torch.from_numpy(fmnist.to_model_input(test_images[:2000]))
    psnr, psnr28, used, ppl = train_fmnist.evaluate(model, x, model.quantize.n_e)
    check(abs(psnr - e["psnr"]) < 0.01, "PyTorch evaluates vqc's weights at %.4f dB, vqc eval says %.4f dB" % (psnr, e["psnr"]))
    check(used == e["codes_used"]["quantize"], "codes used: PyTorch %d, vqc %d" % (used, e["codes_used"]["quantize"]))
    print("      PyTorch on vqc's weights: psnr28 %.3f dB, perplexity %.2f" % (psnr28, ppl))


def main():
    torch.set_num_threads(2)
    if sys.argv[1:2] == ["step1"] and len(sys.argv) == 5:
        step1(*sys.argv[2:])
    elif sys.argv[1:2] == ["eval"] and len(sys.argv) == 4:
        evaluate(*sys.argv[2:])
    else:
        sys.exit(__doc__)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
