#!/usr/bin/python3
"""Writes PyTorch reference fixtures for the ActNorm parity test (tests/scripts/actnorm_parity.sh):
vqgan_fmnist with taming's NLayerDiscriminator(use_actnorm=True) (convs before a norm get a
bias; ActNorm's loc/scale start at 0/1, weights_init leaves them alone), disc_start 0, the
legacy codebook loss, no LPIPS: one GAN step (generator step with D(x_hat), then D(x) and
D(sg x_hat)) and N training steps, in make_fixtures.py's file layout (its functions do the work).

Usage: /usr/bin/python3 tests/reference/make_actnorm_fixtures.py OUTDIR --initialized 0|1
         [--seed S] [--batch B] [--steps N]
  --initialized 0  the state_dict as built: initialized = 0, so the first discriminator call in
                   training mode (the generator step's D(x_hat)) runs the data-dependent init
  --initialized 1  initialized = 1 with loc ~ N(0, 0.5), scale ~ U(0.5, 2) (as after an earlier
                   init and some training): no init may run
Files: OUTDIR/vqgan_fmnist.{weights,inputs,forward,losses,grads,after,steps}.safetensors as
make_fixtures.py writes them (`initialized` is uint8 as in taming's state_dict), plus in
`forward`: actnorm.<module>.loc / .scale, every ActNorm's parameters after the GAN step's
discriminator passes (no optimizer step): the data init's result with --initialized 0, the
weights unchanged with --initialized 1.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import make_fixtures as mf  # noqa: E402
from vqref.configs import config, build  # noqa: E402
from vqref.taming_disc import ActNorm  # noqa: E402
from vqref import safetensors_np  # noqa: E402

MODEL = "vqgan_fmnist"


def actnorms(model):
    return [(n, mod) for n, mod in model.named_modules() if isinstance(mod, ActNorm)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--initialized", type=int, choices=(0, 1), required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=2)
    args = ap.parse_args(argv)
    args.global_step = 0          # what make_fixtures' functions read
    t0 = time.time()
    os.makedirs(args.outdir, exist_ok=True)
    cfg = config(MODEL)
    cfg["lossconfig"].update(disc_start=0, perceptual_weight=0.0, use_actnorm=True)
    size = cfg["ddconfig"]["resolution"]

    torch.manual_seed(args.seed)
    model = build(MODEL, with_loss=True, build_lpips=False, legacy=True, lossconfig=cfg["lossconfig"])
    norms = actnorms(model)
    assert norms, "the reference discriminator has no ActNorm"
    if args.initialized:
        g = torch.Generator().manual_seed(args.seed + 2)
        with torch.no_grad():
            for _, mod in norms:
                mod.loc.copy_(torch.randn(mod.loc.shape, generator=g) * 0.5)
                mod.scale.copy_(torch.rand(mod.scale.shape, generator=g) * 1.5 + 0.5)
                mod.initialized.fill_(1)
    # copies: np32 returns a uint8 buffer as a view, which the init would then set to 1
    weights = {n: mf.np32(t).copy() for n, t in model.state_dict().items()}
    start_state = {n: t.detach().clone() for n, t in model.state_dict().items()}

    gen = torch.Generator().manual_seed(args.seed + 1)
    x = torch.rand(args.batch, cfg["ddconfig"]["in_channels"], size, size, generator=gen) * 2 - 1
    fwd, losses, grads = mf.vqgan_fixtures(model, x, args)
    for n, mod in norms:
        assert int(mod.initialized) == 1
        fwd["actnorm.%s.loc" % n] = mf.np32(mod.loc)
        fwd["actnorm.%s.scale" % n] = mf.np32(mod.scale)
    after = {n: mf.np32(t) for n, t in model.named_buffers()}

    meta = {"model": MODEL, "seed": str(args.seed), "batch": str(args.batch), "size": str(size),
            "initialized": str(args.initialized), "config": json.dumps(cfg, sort_keys=True),
            "torch": torch.__version__, "legacy": "1", "global_step": "0",
            "command": "make_actnorm_fixtures.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    parts = dict(weights=weights, inputs={"x": mf.np32(x)}, forward=fwd, losses=losses, grads=grads, after=after)
    meta_steps = {}
    if args.steps > 0:
        lr, _, b1, b2 = mf.LR_DEFAULTS[MODEL]
        model.load_state_dict(start_state)     # back to the weights (initialized as given)
        steps = mf.vqgan_steps(model, x, args, lr, (b1, b2))
        steps.update({"buffer." + n: mf.np32(t) for n, t in model.named_buffers()})
        parts["steps"] = steps
        meta_steps = dict(steps=str(args.steps), lr=repr(lr), beta1=repr(b1), beta2=repr(b2), eps=repr(mf.ADAM_EPS),
                          same_batch="1")
    for part, tensors in parts.items():
        path = os.path.join(args.outdir, "%s.%s.safetensors" % (MODEL, part))
        safetensors_np.save_file(tensors, path, metadata=dict(meta, part=part, **(meta_steps if part == "steps" else {})))
    first = norms[0][0]
    print("%s actnorm initialized=%d batch %d: %s; %s.scale[:3] %s; %.1f s" % (
        MODEL, args.initialized, args.batch, ", ".join("%s=%.6g" % (k, float(v)) for k, v in sorted(losses.items())),
        first, np.array2string(fwd["actnorm.%s.scale" % first].reshape(-1)[:3], precision=5), time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
