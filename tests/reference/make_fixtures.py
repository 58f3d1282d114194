#!/usr/bin/python3
"""Writes PyTorch reference fixtures for the C parity tests: a model with seeded random
weights, a seeded input batch, every stage of the forward pass, the losses and every
parameter gradient, as safetensors files under the reference (taming / rosinality) names.

Usage: /usr/bin/python3 tests/reference/make_fixtures.py MODEL OUTDIR [--seed S] [--batch B]
         [--size S] [--legacy 0|1] [--perceptual-weight W] [--codebook-std F]
         [--disc-start N] [--global-step N] [--steps N [--lr LR] [--teacher]]
         [--ch C] [--z Z] [--disc-ndf F]
MODEL: vqgan_fmnist, tiny32, vqgan_f16 (use --size 64: 256 is slow) or vqvae2.
--ch / --z / --disc-ndf narrow a VQGAN (ddconfig ch; z_channels = embed_dim; the discriminator's
ndf), as vqc's -D ch=C -D z_channels=Z -D embed_dim=Z -D disc_ndf=F do.

Files (OUTDIR/MODEL.<part>.safetensors), float32 unless noted; each carries __metadata__
(model, seed, config JSON, command line):
  weights  state_dict before the step: every parameter and buffer, reference names (VQGANs
           include loss.discriminator.*), LPIPS excepted
  lpips    only with W > 0: loss.perceptual_loss.* (random VGG16 and lin weights, the scaling
           constants; about 59 MB), in the layout vq_lpips_load reads
  inputs   x (B, C, S, S), uniform in [-1, 1] from torch.Generator seeded with S + 1
  forward  VQGAN: encoder_h, quant_conv, indices (I64, (B, h, w)), z_q, post_quant_conv, xrec,
           quantize.dist_gap (B*h*w,) second-smallest minus smallest code distance (how far
           each argmin is from a tie), rec_loss (B, C, S, S), p_loss,
           disc.logits_fake_g (generator step), disc.logits_real / disc.logits_fake (disc step)
           VQ-VAE-2: enc_b, enc_t, quantize_conv_t, id_t (I64), quant_t, dec_t, quantize_conv_b,
           id_b (I64), quant_b, upsample_t, xrec, quantize_t.dist_gap, quantize_b.dist_gap
  losses   scalars (shape ()): VQGAN: qloss, nll_loss, g_loss, d_weight, disc_factor, loss, d_loss,
           l1_loss = mean |x - xrec|, p_loss = mean over images of LPIPS (0 when W = 0);
           VQ-VAE-2: diff_t, diff_b, recon_loss, latent_loss, loss
  grads    d loss / d p for every trainable parameter p under p's name, except the
           discriminator's, which hold d d_loss / d p (what each of taming's two optimizers
           sees); VQGAN also adaptive.nll_grad / adaptive.g_grad: the gradients of nll_loss and
           g_loss w.r.t. decoder.conv_out.weight that d_weight is made from
  after    buffers after the step (BatchNorm running stats after the three discriminator
           passes; VQ-VAE-2's EMA codebooks after their update)
  steps    only with --steps N > 0: N training steps from the weights above on the same input
           batch x every step, as the references train: VQGAN (taming VQModel.training_step):
           Adam on the autoencoder (betas (0.5, 0.9)) with the generator loss, then Adam on the
           discriminator (same lr and betas) with d_loss on the SAME step's reconstruction (from
           before the autoencoder's update, as vqc's train step; taming recomputes it), global_step
           = --global-step + i; VQ-VAE-2 (rosinality train_vqvae.py): Adam (betas (0.9, 0.999))
           on loss, EMA codebook update inside the forward. Per step i (arrays of shape (N,)),
           the values of the forward of step i, before its updates: VQGAN loss, nll_loss, qloss,
           g_loss, d_weight, disc_factor, d_loss, logits_real / logits_fake (means over the disc
           step's logit maps), kink_gap: how close the step came to a kink of a piecewise-linear
           function (min over the discriminator's LeakyReLU inputs of |a| / max |a| of the layer,
           |x^ - x| / max |x| (L1) and |1 -+ logit| (hinge)); VQ-VAE-2 loss, recon_loss, latent_loss, diff_t,
           diff_b; `indices.<key>` (I64, (N, B, h, w)) the codes of each step's forward under
           the forward part's key (indices; id_t, id_b); then `buffer.<name>` for every
           buffer after the N steps. Metadata: steps,
           lr, beta1, beta2, eps (one lr for both VQGAN optimizers; default: the model's .vq
           recipe, LR_DEFAULTS below, VQGAN f16 lr = 4.5e-6 * batch as taming's main.py).
  state<i>, adam<i>  only with --teacher (VQGAN): the trajectory of the steps part, for teacher-
           forced comparison, i = 0..N: state<i> = the state_dict before step i (state<N>: after
           the last), names and layout as `weights`; adam<i> = both Adam optimizers' state then:
           optim.<ae|disc>.step (I64 ()), optim.<ae|disc>.exp_avg.<param> and .exp_avg_sq.<param>
           (the parameter's shape; zeros before the first step). The model is in train mode
           throughout; LPIPS stays in eval mode (its lin dropout off, as the runtime's).
The model is in train mode (BatchNorm uses batch statistics; VQ-VAE-2 updates its EMA
codebooks after reading the codes). No optimizer step is taken: the discriminator step uses
the same reconstruction as the generator step (taming would recompute it after the generator's
Adam step; so do vqc's train step and the steps part). The VQGAN GAN term is on (disc_start 0) unless --disc-start says otherwise.
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

from vqref.configs import config, build  # noqa: E402
from vqref.vqvae2 import vqvae2_loss  # noqa: E402
from vqref import safetensors_np  # noqa: E402

DEFAULTS = {"vqgan_fmnist": (4, 32), "tiny32": (2, 32), "vqgan_f16": (1, 64), "vqvae2": (2, 32)}
# --steps recipe per model: (lr, scale lr by the batch size, beta1, beta2), as models/*.vq say
LR_DEFAULTS = {"vqgan_fmnist": (2e-4, False, 0.5, 0.9), "tiny32": (2e-4, False, 0.5, 0.9),
               "vqgan_f16": (4.5e-6, True, 0.5, 0.9), "vqvae2": (3e-4, False, 0.9, 0.999)}
ADAM_EPS = 1e-8


def np32(t):
    """Floating tensors as float32, integer indices as int64, other buffers (uint8) as they are."""
    t = t.detach().cpu()
    if t.is_floating_point():
        return t.numpy().astype(np.float32)
    return t.numpy().astype(np.int64) if t.dtype in (torch.int64, torch.int32) else t.numpy()


def dist_gap(d):
    """(M, K) distances -> (M,) second smallest minus smallest."""
    two = torch.topk(d, 2, dim=1, largest=False).values
    return two[:, 1] - two[:, 0]


def train_mode(model):
    """Train mode (BatchNorm batch statistics), but LPIPS's lin dropout stays off as in the runtime."""
    model.train()
    if getattr(model, "loss", None) is not None and model.loss.perceptual_loss is not None:
        model.loss.perceptual_loss.eval()


def vqgan_fixtures(model, x, args):
    train_mode(model)
    loss_mod = model.loss
    s = model.stages(x)
    with torch.no_grad():
        hq = s["quant_conv"].permute(0, 2, 3, 1).reshape(-1, model.quantize.e_dim)
        gap = dist_gap(model.quantize.distances(hq))
    ae_params = [(n, p) for n, p in model.named_parameters() if not n.startswith("loss.")]
    d_params = [(n, p) for n, p in model.named_parameters() if n.startswith("loss.discriminator.")]

    loss, g = loss_mod(s["qloss"], x, s["xrec"], 0, args.global_step, last_layer=model.get_last_layer())
    last = model.get_last_layer()
    nll_grad = torch.autograd.grad(g["nll_loss"], last, retain_graph=True)[0]
    g_grad = torch.autograd.grad(g["g_loss"], last, retain_graph=True)[0]
    ae_grads = torch.autograd.grad(loss, [p for _, p in ae_params], retain_graph=True)

    d_loss, dparts = loss_mod(s["qloss"], x, s["xrec"], 1, args.global_step)
    d_grads = torch.autograd.grad(d_loss, [p for _, p in d_params])

    fwd = {k: np32(s[k]) for k in ("encoder_h", "quant_conv", "indices", "z_q", "post_quant_conv", "xrec")}
    fwd["quantize.dist_gap"] = np32(gap)
    fwd["rec_loss"] = np32(g["rec_loss"])
    fwd["p_loss"] = np32(g["p_loss"])
    fwd["disc.logits_fake_g"] = np32(g["logits_fake"])
    fwd["disc.logits_real"] = np32(dparts["logits_real"])
    fwd["disc.logits_fake"] = np32(dparts["logits_fake"])
    losses = {k: np32(g[k]) for k in ("nll_loss", "g_loss", "d_weight", "disc_factor", "loss")}
    losses["qloss"] = np32(s["qloss"])
    losses["l1_loss"] = np32(torch.abs(x - s["xrec"]).mean())
    losses["p_loss"] = np32(g["p_loss"].mean())
    losses["d_loss"] = np32(d_loss)
    grads = {n: np32(gr) for (n, _), gr in zip(ae_params, ae_grads)}
    grads.update({n: np32(gr) for (n, _), gr in zip(d_params, d_grads)})
    grads["adaptive.nll_grad"] = np32(nll_grad)
    grads["adaptive.g_grad"] = np32(g_grad)
    return fwd, losses, grads


def vqvae2_fixtures(model, x, args):
    model.train()
    # Distances are taken from the codebooks as they are when read, i.e. before each EMA update:
    # hook the quantizers' inputs.
    seen = {}

    def grab(name):
        def hook(mod, inp):
            with torch.no_grad():
                flat = inp[0].reshape(-1, mod.dim)
                d = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ mod.embed + mod.embed.pow(2).sum(0, keepdim=True)
                seen[name] = dist_gap(d)
        return hook

    hooks = [model.quantize_t.register_forward_pre_hook(grab("quantize_t")),
             model.quantize_b.register_forward_pre_hook(grab("quantize_b"))]
    s = model.stages(x)
    for h in hooks:
        h.remove()
    loss, recon, latent = vqvae2_loss(s["xrec"], x, s["diff"])
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, [p for _, p in params])
    keys = ("enc_b", "enc_t", "quantize_conv_t", "id_t", "quant_t", "dec_t", "quantize_conv_b", "id_b",
            "quant_b", "upsample_t", "xrec")
    fwd = {k: np32(s[k]) for k in keys}
    fwd["quantize_t.dist_gap"] = np32(seen["quantize_t"])
    fwd["quantize_b.dist_gap"] = np32(seen["quantize_b"])
    losses = dict(diff_t=np32(s["diff_t"].reshape(())), diff_b=np32(s["diff_b"].reshape(())),
                  recon_loss=np32(recon), latent_loss=np32(latent), loss=np32(loss))
    return fwd, losses, {n: np32(gr) for (n, _), gr in zip(params, grads)}


def model_state(model):
    """The state_dict as numpy, LPIPS (frozen, its own part) left out."""
    return {n: np32(t) for n, t in model.state_dict().items() if not n.startswith("loss.perceptual_loss.")}


def adam_state(named_opts):
    """[(tag, optimizer, [(name, param)])] -> optim.<tag>.{step, exp_avg.<name>, exp_avg_sq.<name>}."""
    out = {}
    for tag, opt, named in named_opts:
        steps = set()
        for name, p in named:
            st = opt.state.get(p, {})
            steps.add(int(st["step"]) if "step" in st else 0)
            for k in ("exp_avg", "exp_avg_sq"):
                out["optim.%s.%s.%s" % (tag, k, name)] = np32(st[k]) if k in st else np.zeros(tuple(p.shape), np.float32)
        assert len(steps) == 1, steps
        out["optim.%s.step" % tag] = np.array(steps.pop(), dtype=np.int64)
    return out


def vqgan_steps(model, x, args, lr, betas, save_state=None):
    """N of taming's training steps on the same batch: generator step then discriminator step.
    save_state(i, weights, adam): called before step i and after the last (i = N) when given."""
    train_mode(model)
    loss_mod = model.loss
    ae_named = [(n, p) for n, p in model.named_parameters() if not n.startswith("loss.")]
    d_named = [("loss.discriminator." + n, p) for n, p in loss_mod.discriminator.named_parameters()]
    opt_ae = torch.optim.Adam([p for _, p in ae_named], lr=lr, betas=betas, eps=ADAM_EPS)
    opt_d = torch.optim.Adam([p for _, p in d_named], lr=lr, betas=betas, eps=ADAM_EPS)
    named_opts = [("ae", opt_ae, ae_named), ("disc", opt_d, d_named)]
    keys = ("loss", "nll_loss", "qloss", "g_loss", "d_weight", "disc_factor", "d_loss", "logits_real", "logits_fake")
    rows = {k: [] for k in keys}
    rows["kink_gap"] = []
    idx = []
    # How close the step's piecewise-linear points are (LeakyReLU inputs in every discriminator pass,
    # relative to the layer's largest |input|): an element within rounding distance of its kink can
    # take the other slope in another implementation, which moves a gradient by one element's share.
    gaps = []

    def kink_hook(mod, inp):
        with torch.no_grad():
            a = inp[0].detach().abs()
            gaps.append(float(a.min() / a.max()))
    hooks = [mod.register_forward_pre_hook(kink_hook) for mod in loss_mod.discriminator.modules()
             if isinstance(mod, torch.nn.LeakyReLU)]
    for i in range(args.steps):
        if save_state:
            save_state(i, model_state(model), adam_state(named_opts))
        gaps.clear()
        gs = args.global_step + i
        st = model.stages(x)                           # = model(x), keeping the indices
        xrec, qloss = st["xrec"], st["qloss"]
        idx.append(np32(st["indices"]))
        loss, g = loss_mod(qloss, x, xrec, 0, gs, last_layer=model.get_last_layer())
        opt_ae.zero_grad()
        loss.backward()
        opt_ae.step()
        # taming recomputes the reconstruction for optimizer_idx 1 (after the generator's update);
        # vqc's train step (runtime/train_step.h) reuses this step's: the C side must match that
        d_loss, dparts = loss_mod(qloss.detach(), x, xrec.detach(), 1, gs)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        for k, v in (("loss", loss), ("nll_loss", g["nll_loss"]), ("qloss", qloss), ("g_loss", g["g_loss"]),
                     ("d_weight", g["d_weight"]), ("disc_factor", g["disc_factor"]), ("d_loss", d_loss),
                     ("logits_real", dparts["logits_real"]), ("logits_fake", dparts["logits_fake"])):
            rows[k].append(float(v.detach().double().mean()))
        with torch.no_grad():   # L1's kink at x^ = x, the hinges at logits +-1
            gaps.append(float((xrec - x).abs().min() / x.abs().max()))
            gaps.append(float(torch.cat([(1 - dparts["logits_real"]).abs().flatten(),
                                         (1 + dparts["logits_fake"]).abs().flatten()]).min()))
        rows["kink_gap"].append(min(gaps))
    for h in hooks:
        h.remove()
    if save_state:
        save_state(args.steps, model_state(model), adam_state(named_opts))
    out = {k: np.array(v, dtype=np.float32) for k, v in rows.items()}
    out["indices.indices"] = np.stack(idx)
    return out


def vqvae2_steps(model, x, args, lr, betas):
    """N of rosinality's train_vqvae.py steps on the same batch."""
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas, eps=ADAM_EPS)
    rows = {k: [] for k in ("loss", "recon_loss", "latent_loss", "diff_t", "diff_b")}
    idx = {"id_t": [], "id_b": []}
    for _ in range(args.steps):
        s = model.stages(x)
        for k in idx:
            idx[k].append(np32(s[k]))
        loss, recon, latent = vqvae2_loss(s["xrec"], x, s["diff"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        for k, v in (("loss", loss), ("recon_loss", recon), ("latent_loss", latent), ("diff_t", s["diff_t"]),
                     ("diff_b", s["diff_b"])):
            rows[k].append(float(v.detach().sum()))
    out = {k: np.array(v, dtype=np.float32) for k, v in rows.items()}
    out.update({"indices." + k: np.stack(v) for k, v in idx.items()})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", choices=sorted(DEFAULTS))
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--size", type=int, help="image side (VQGAN: divisible by 2^(levels-1); VQ-VAE-2: by 8)")
    ap.add_argument("--legacy", type=int, choices=(0, 1), default=1,
                    help="VQGAN quantizer loss form: 1 = taming default (beta on the codebook term)")
    ap.add_argument("--perceptual-weight", type=float, default=0.0,
                    help="> 0 builds LPIPS (random VGG weights, saved too: about 59 MB)")
    ap.add_argument("--codebook-std", type=float,
                    help="initialize the codebook(s) N(0, STD) instead of the reference init (taming's "
                         "uniform(-1/K, 1/K) puts codes so close that argmins are near ties)")
    ap.add_argument("--disc-start", type=int, default=0)
    ap.add_argument("--global-step", type=int, default=0)
    ap.add_argument("--steps", type=int, default=0,
                    help="also write MODEL.steps.safetensors: the losses of N optimizer steps")
    ap.add_argument("--lr", type=float, help="learning rate of the --steps optimizers (default: the model's)")
    ap.add_argument("--teacher", action="store_true",
                    help="VQGAN: also write state<i>/adam<i> (the model and Adam state before each step)")
    ap.add_argument("--ch", type=int, help="VQGAN: base channel count (ddconfig ch)")
    ap.add_argument("--z", type=int, help="VQGAN: z_channels and embed_dim")
    ap.add_argument("--disc-ndf", type=int, help="VQGAN: the discriminator's ndf")
    args = ap.parse_args(argv)
    batch, size = DEFAULTS[args.model]
    batch, size = args.batch or batch, args.size or size
    t0 = time.time()
    os.makedirs(args.outdir, exist_ok=True)
    cfg = config(args.model)

    torch.manual_seed(args.seed)
    if cfg["kind"] == "vqgan":
        lossconf = dict(disc_start=args.disc_start, perceptual_weight=args.perceptual_weight)
        cfg["lossconfig"].update(lossconf)
        if args.ch is not None:
            cfg["ddconfig"]["ch"] = args.ch
        if args.z is not None:
            cfg["ddconfig"]["z_channels"] = cfg["embed_dim"] = args.z
        if args.disc_ndf is not None:
            cfg["lossconfig"]["disc_ndf"] = args.disc_ndf
        model = build(args.model, with_loss=True, build_lpips=args.perceptual_weight > 0,
                      legacy=bool(args.legacy), lossconfig=cfg["lossconfig"], ddconfig=cfg["ddconfig"],
                      embed_dim=cfg["embed_dim"])
        if args.perceptual_weight > 0:
            model.loss.perceptual_loss.eval()      # deterministic: no dropout in lin layers
        channels = cfg["ddconfig"]["in_channels"]
    else:
        model = build(args.model)
        channels = cfg["args"]["in_channel"]
    if args.codebook_std is not None:
        with torch.no_grad():
            if cfg["kind"] == "vqgan":
                model.quantize.embedding.weight.normal_(0.0, args.codebook_std)
            else:
                for q in (model.quantize_t, model.quantize_b):
                    q.embed.normal_(0.0, args.codebook_std)
                    q.embed_avg.copy_(q.embed)
    weights = model_state(model)
    lpips_w = {n: np32(t) for n, t in model.state_dict().items() if n.startswith("loss.perceptual_loss.")}
    start_state = {n: t.detach().clone() for n, t in model.state_dict().items()}

    gen = torch.Generator().manual_seed(args.seed + 1)
    x = torch.rand(batch, channels, size, size, generator=gen) * 2 - 1

    if cfg["kind"] == "vqgan":
        fwd, losses, grads = vqgan_fixtures(model, x, args)
    else:
        fwd, losses, grads = vqvae2_fixtures(model, x, args)
    after = {n: np32(t) for n, t in model.named_buffers()
             if not n.startswith("loss.perceptual_loss.")}

    meta = {"model": args.model, "seed": str(args.seed), "codebook_std": str(args.codebook_std), "batch": str(batch), "size": str(size),
            "config": json.dumps(cfg, sort_keys=True), "torch": torch.__version__,
            "command": "make_fixtures.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    if cfg["kind"] == "vqgan":
        meta.update(legacy=str(args.legacy), global_step=str(args.global_step))
    parts = dict(weights=weights, inputs={"x": np32(x)}, forward=fwd, losses=losses, grads=grads, after=after)
    if lpips_w:
        parts["lpips"] = lpips_w
    if args.steps > 0:
        base, per_batch, b1, b2 = LR_DEFAULTS[args.model]
        lr = args.lr if args.lr is not None else base * (batch if per_batch else 1)
        model.load_state_dict(start_state)             # the single-step fixtures moved buffers (BN, EMA)
        if args.teacher and cfg["kind"] != "vqgan":
            ap.error("--teacher is for VQGANs")

        def save_state(i, w, adam):
            md = dict(meta, part="state%d" % i, step=str(i))
            safetensors_np.save_file(w, os.path.join(args.outdir, "%s.state%d.safetensors" % (args.model, i)), metadata=md)
            md["part"] = "adam%d" % i
            safetensors_np.save_file(adam, os.path.join(args.outdir, "%s.adam%d.safetensors" % (args.model, i)), metadata=md)
        if cfg["kind"] == "vqgan":
            steps = vqgan_steps(model, x, args, lr, (b1, b2), save_state if args.teacher else None)
        else:
            steps = vqvae2_steps(model, x, args, lr, (b1, b2))
        steps.update({"buffer." + n: np32(t) for n, t in model.named_buffers()
                      if not n.startswith("loss.perceptual_loss.")})
        parts["steps"] = steps
        meta_steps = dict(steps=str(args.steps), lr=repr(lr), beta1=repr(b1), beta2=repr(b2), eps=repr(ADAM_EPS),
                          same_batch="1", teacher=str(int(args.teacher)))
    else:
        meta_steps = {}
    for part, tensors in parts.items():
        path = os.path.join(args.outdir, "%s.%s.safetensors" % (args.model, part))
        safetensors_np.save_file(tensors, path, metadata=dict(meta, part=part, **(meta_steps if part == "steps" else {})))
    summary = ", ".join("%s=%.6g" % (k, float(v)) for k, v in sorted(losses.items()))
    if args.steps > 0:
        summary += "; %d steps: loss %.6g -> %.6g" % (args.steps, parts["steps"]["loss"][0], parts["steps"]["loss"][-1])
    gap_keys = [k for k in fwd if k.endswith("dist_gap")]
    gaps = ", ".join("min %s %.3g" % (k, fwd[k].min()) for k in gap_keys)
    print("%s seed %d batch %d size %d: %s; %s; %.1f s" % (args.model, args.seed, batch, size, summary, gaps,
                                                         time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
