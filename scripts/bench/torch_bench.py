#!/usr/bin/python3
"""PyTorch side of `make bench`: one case (scripts/bench/cases.json), one configuration, one JSON
line on stdout, in the same fields as a vqc program's `bench --json`.

    /usr/bin/python3 scripts/bench/torch_bench.py --case tiny@32 --threads 2 --steps 3

The model is the project's PyTorch reference (tests/reference/vqref, taming's VQGAN with its
NLayerDiscriminator and VQLPIPSWithDiscriminator without LPIPS), random weights, one fixed batch
x ~ U(-1, 1) of shape (B, 3, R, R).

A training step (mode "train") is what taming does per batch with its two optimizers, the
autoencoder forward run once:
  1. xrec, qloss = model(x); loss = L1 + d_weight * g_loss + qloss (hinge GAN, disc factor on,
     adaptive weight from the gradients at decoder.conv_out.weight); backward; Adam step on the
     autoencoder (discriminator weights frozen meanwhile, as Lightning's toggle_optimizer does);
  2. d_loss = hinge(D(x), D(sg xrec)); backward; Adam step on the discriminator.
Adam lr 4.5e-6, betas (0.5, 0.9) (taming's); zero_grad(set_to_none=True).
A forward step (mode "fwd") is encode + quantize + decode under torch.no_grad().

Step 0 is a warm-up run under the FLOP counter (flops.py); then --warmup plain warm-up steps; then
--steps timed steps. Reported: the median step time; images_per_s = batch / median; gflops =
counted FLOPs / median; peak_rss_mb = this process's ru_maxrss (run it in a fresh process per
measurement). Threads: torch.set_num_threads(T); the caller should also set OMP_NUM_THREADS=T.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "reference"))

from cases import get_case  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError as e:
    sys.exit("torch_bench: cannot import torch (%s); run with /usr/bin/python3 (Debian's python3-torch)" % e)

from flops import DispatchFlopCounter  # noqa: E402
from vqref.configs import build, config  # noqa: E402

GLOBAL_STEP = 10 ** 9            # past disc_start, so the GAN terms are on (disc factor 1)


def build_model(case, seed=0):
    """(model, x): a vqref VQModel with its loss module (no LPIPS) and the fixed input batch."""
    torch.manual_seed(seed)
    spec = case["torch"]
    dd = dict(config(spec["config"])["ddconfig"], **spec.get("ddconfig", {}))
    model = build(spec["config"], with_loss=case["mode"] == "train", build_lpips=False, ddconfig=dd)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.rand(case["batch"], dd["in_channels"], dd["resolution"], dd["resolution"], generator=g) * 2 - 1
    return model, x


class TrainStep:
    """One taming training step (see the module comment). Call it; returns (loss, d_loss) floats."""

    def __init__(self, model, x):
        self.model, self.x = model, x
        self.disc = model.loss.discriminator
        betas = (0.5, 0.9)
        self.opt_ae = torch.optim.Adam(list(model.ae_parameters()), lr=4.5e-6, betas=betas)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=4.5e-6, betas=betas)
        model.train()

    def _freeze_disc(self, frozen):
        for p in self.disc.parameters():
            p.requires_grad_(not frozen)

    def __call__(self):
        m, x = self.model, self.x
        self._freeze_disc(True)
        xrec, qloss = m(x)
        loss, _ = m.loss(qloss, x, xrec, 0, GLOBAL_STEP, last_layer=m.get_last_layer())
        self.opt_ae.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_ae.step()
        self._freeze_disc(False)
        d_loss, _ = m.loss(qloss, x, xrec.detach(), 1, GLOBAL_STEP)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        return float(loss), float(d_loss)


class ForwardStep:
    def __init__(self, model, x):
        self.model, self.x = model, x
        model.eval()

    def __call__(self):
        with torch.no_grad():
            xrec, _ = self.model(self.x)
        return float(xrec[0, 0, 0, 0]), 0.0


def run(case, threads, steps, warmup, seed=0):
    """Measure one case; returns the JSON-ready dict."""
    torch.set_num_threads(threads)
    model, x = build_model(case, seed)
    step = TrainStep(model, x) if case["mode"] == "train" else ForwardStep(model, x)
    counter = DispatchFlopCounter()
    with counter:
        step()
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    ms = statistics.median(times)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # Linux: KiB
    return dict(
        impl="pytorch", case=case["name"], mode=case["mode"], batch=case["batch"], threads=threads,
        forward_ms=ms if case["mode"] == "fwd" else None,
        train_step_ms=ms if case["mode"] == "train" else None,
        images_per_s=case["batch"] / (ms / 1e3),
        gflops=counter.total / (ms / 1e3) / 1e9,
        flops=counter.total, flops_by_op=counter.by_op,
        peak_rss_mb=round(rss_mb, 1), step_ms=[round(t, 2) for t in times], warmup=warmup,
        torch=torch.__version__, torch_threads=torch.get_num_threads(),
        env={k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "GLIBC_TUNABLES", "OPENBLAS_CORETYPE")},
        python=platform.python_version())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", required=True, help="a case name from scripts/bench/cases.json")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3, help="timed steps (median reported)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps after the counted first step")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.threads < 1 or a.steps < 1 or a.warmup < 0:
        ap.error("need --threads >= 1, --steps >= 1, --warmup >= 0")
    try:
        case = get_case(a.case)
    except KeyError as e:
        ap.error(str(e.args[0]))
    print(json.dumps(run(case, a.threads, a.steps, a.warmup, a.seed)), flush=True)


if __name__ == "__main__":
    main()
