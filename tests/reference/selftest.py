#!/usr/bin/python3
"""Checks the vqref math against hand-derived numpy (float64), independent of PyTorch's
modules: attention, the asymmetric downsample, the two quantizer loss forms' gradients, the
discriminator losses, the adaptive weight, rosinality's EMA update, the safetensors byte
layout, and that make_fixtures' files reload into a model that reproduces them.
Usage: /usr/bin/python3 tests/reference/selftest.py    (a few seconds; exit 1 on any failure)
"""
import os
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from vqref import (AttnBlock, Downsample, VectorQuantizer, Quantize, NLayerDiscriminator, LPIPS,  # noqa: E402
                   hinge_d_loss, vanilla_d_loss, adopt_weight, VQLPIPSWithDiscriminator, safetensors_np)
from vqref.configs import build  # noqa: E402

failures = []


def close(name, got, want, tol=1e-9):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    err = float(np.max(np.abs(got - want))) if got.size else 0.0
    ok = got.shape == want.shape and err <= tol
    print("%s  %-58s max|diff| %.2e" % ("ok  " if ok else "FAIL", name, err))
    if not ok:
        failures.append(name)


def truth(name, ok):
    print("%s  %s" % ("ok  " if ok else "FAIL", name))
    if not ok:
        failures.append(name)


def np_groupnorm(x, G, w, b, eps):
    B, C, H, W = x.shape
    g = x.reshape(B, G, -1)
    g = (g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + eps)
    return g.reshape(B, C, H, W) * w[None, :, None, None] + b[None, :, None, None]


def test_attention():
    torch.manual_seed(1)
    m = AttnBlock(32).double()
    with torch.no_grad():
        m.norm.weight.normal_(); m.norm.bias.normal_()
    x = torch.randn(2, 32, 3, 4, dtype=torch.float64)
    P = {k: v.detach().numpy() for k, v in m.state_dict().items()}
    xn = x.numpy()
    h = np_groupnorm(xn, 32, P["norm.weight"], P["norm.bias"], 1e-6)
    conv1 = lambda name, t: np.einsum("oc,bchw->bohw", P[name + ".weight"][:, :, 0, 0], t) + P[name + ".bias"][None, :, None, None]
    q, k, v = conv1("q", h), conv1("k", h), conv1("v", h)
    B, C, H, W = xn.shape
    out = np.zeros_like(xn)
    for b in range(B):
        for i in range(H * W):                       # query position
            qi = q[b].reshape(C, -1)[:, i]
            s = qi @ k[b].reshape(C, -1) / np.sqrt(C)  # scores over keys
            p = np.exp(s - s.max()); p /= p.sum()
            out[b].reshape(C, -1)[:, i] = v[b].reshape(C, -1) @ p
    want = xn + conv1("proj_out", out)
    close("AttnBlock == per-query softmax over keys / sqrt(C)", m(x).detach().numpy(), want, 1e-10)


def test_downsample():
    torch.manual_seed(2)
    m = Downsample(3, True).double()
    x = torch.randn(1, 3, 6, 6, dtype=torch.float64)
    w, b = m.conv.weight.detach().numpy(), m.conv.bias.detach().numpy()
    xp = np.zeros((1, 3, 7, 7)); xp[:, :, :6, :6] = x.numpy()   # zeros only right and bottom
    want = np.zeros((1, 3, 3, 3))
    for o in range(3):
        for i in range(3):
            for j in range(3):
                want[0, o, i, j] = np.sum(w[o] * xp[0, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3]) + b[o]
    close("Downsample == pad (0,1,0,1) then 3x3 stride 2", m(x).detach().numpy(), want, 1e-12)


def test_quantizer_grads():
    """With M positions, D dims, N = M*D and zq the chosen code (row k):
    d/dz = 2 c_commit (z - zq) / N;  d/de_k = 2 c_code sum_{i -> k} (zq - z_i) / N,
    (c_commit, c_code) = (1, beta) legacy, (beta, 1) corrected. Loss value (1 + beta) mse."""
    beta = 0.25
    for legacy in (True, False):
        torch.manual_seed(3)
        q = VectorQuantizer(5, 4, beta=beta, legacy=legacy).double()
        with torch.no_grad():
            q.embedding.weight.normal_()
        z = torch.randn(2, 4, 3, 3, dtype=torch.float64, requires_grad=True)
        zq, loss, (_, _, ind) = q(z)
        (gz, ge) = torch.autograd.grad(loss + (zq * 0.0).sum(), [z, q.embedding.weight])
        E = q.embedding.weight.detach().numpy()
        zf = z.detach().numpy().transpose(0, 2, 3, 1).reshape(-1, 4)
        d = ((zf[:, None, :] - E[None]) ** 2).sum(2)
        idx = d.argmin(1)
        N = zf.size
        c_commit, c_code = (1.0, beta) if legacy else (beta, 1.0)
        want_gz = (2 * c_commit * (zf - E[idx]) / N).reshape(2, 3, 3, 4).transpose(0, 3, 1, 2)
        want_ge = np.zeros_like(E)
        np.add.at(want_ge, idx, 2 * c_code * (E[idx] - zf) / N)
        tag = "legacy" if legacy else "corrected"
        truth("VectorQuantizer %s: indices are the brute-force argmin" % tag, np.array_equal(ind.numpy(), idx))
        close("VectorQuantizer %s: loss == (1 + beta) mse" % tag, loss.item(), (1 + beta) * ((zf - E[idx]) ** 2).mean())
        close("VectorQuantizer %s: d loss / dz" % tag, gz.numpy(), want_gz, 1e-12)
        close("VectorQuantizer %s: d loss / d codebook" % tag, ge.numpy(), want_ge, 1e-12)
        close("VectorQuantizer %s: z_q forward is the code" % tag, zq.detach().numpy().transpose(0, 2, 3, 1).reshape(-1, 4), E[idx], 1e-12)
    g = torch.ones(2, 4, 3, 3, dtype=torch.float64)
    z = torch.randn(2, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    zq, _, _ = q(z)
    close("VectorQuantizer: straight-through d z_q / dz = identity", torch.autograd.grad((zq * g).sum(), z)[0].numpy(), g.numpy())


def test_disc_losses():
    r = torch.tensor([[0.5, 2.0], [-1.0, 0.0]], dtype=torch.float64)
    f = torch.tensor([[-2.0, 0.3], [1.0, -0.5]], dtype=torch.float64)
    # hinge: relu(1 - r) = [.5, 0, 2, 1] mean .875; relu(1 + f) = [0, 1.3, 2, .5] mean .95
    close("hinge_d_loss == 0.5 (0.875 + 0.95)", hinge_d_loss(r, f).item(), 0.5 * (0.875 + 0.95))
    sp = lambda v: np.log1p(np.exp(v))
    rv, fv = r.numpy(), f.numpy()
    close("vanilla_d_loss == 0.5 (mean softplus(-r) + mean softplus(f))", vanilla_d_loss(r, f).item(),
          0.5 * (sp(-rv).mean() + sp(fv).mean()))
    truth("adopt_weight: 0 before disc_start, weight from it on",
          adopt_weight(1.0, 9, 10) == 0.0 and adopt_weight(1.0, 10, 10) == 1.0)


def test_adaptive_weight():
    torch.manual_seed(4)
    loss = VQLPIPSWithDiscriminator(disc_start=0, disc_in_channels=1, disc_num_layers=2, disc_weight=0.8,
                                    perceptual_weight=0.0, build_lpips=False).double()
    last = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    a, b = torch.randn(5, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    nll = (last @ a).pow(2).sum()        # d/dlast = 2 (last a) a^T
    g = (last @ b).sum()                 # d/dlast = 1 b^T
    la, lb = last.detach().numpy(), b.numpy()
    gn = 2 * np.outer(la @ a.numpy(), a.numpy())
    gg = np.outer(np.ones(3), lb)
    want = np.linalg.norm(gn) / (np.linalg.norm(gg) + 1e-4) * 0.8
    close("adaptive d_weight == |g_nll| / (|g_G| + 1e-4) * disc_weight",
          loss.calculate_adaptive_weight(nll, g, last).item(), want, 1e-10)


def test_ema():
    torch.manual_seed(5)
    q = Quantize(3, 4, decay=0.9).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    E0, N0, A0 = (q.embed.numpy().copy(), q.cluster_size.numpy().copy(), q.embed_avg.numpy().copy())
    out, diff, ind = q(x)
    zf = x.numpy().reshape(-1, 3)
    idx = (((zf[:, :, None] - E0[None]) ** 2).sum(1)).argmin(1)
    onehot = np.eye(4)[idx]
    N1 = 0.9 * N0 + 0.1 * onehot.sum(0)
    A1 = 0.9 * A0 + 0.1 * zf.T @ onehot
    n = N1.sum()
    E1 = A1 / ((N1 + 1e-5) / (n + 4 * 1e-5) * n)[None, :]
    truth("Quantize (EMA): indices are the brute-force argmin", np.array_equal(ind.numpy().reshape(-1), idx))
    close("Quantize (EMA): output uses the codebook before the update", out.numpy().reshape(-1, 3), E0[:, idx].T)
    close("Quantize (EMA): diff == mse to the old codes", diff.item(), ((E0[:, idx].T - zf) ** 2).mean())
    close("Quantize (EMA): cluster_size update", q.cluster_size.numpy(), N1)
    close("Quantize (EMA): embed_avg update", q.embed_avg.numpy(), A1)
    close("Quantize (EMA): Laplace-smoothed embed", q.embed.numpy(), E1)


def test_shapes():
    d = NLayerDiscriminator(input_nc=3, ndf=8, n_layers=3)
    truth("NLayerDiscriminator 3 layers: 32x32 -> 2x2 logits", tuple(d(torch.zeros(1, 3, 32, 32)).shape) == (1, 1, 2, 2))
    m = build("vqgan_fmnist", with_loss=False)
    s = m.stages(torch.zeros(2, 1, 32, 32))
    truth("vqgan_fmnist: 32x32 -> latent (2, 64, 8, 8) -> (2, 1, 32, 32)",
          tuple(s["z_q"].shape) == (2, 64, 8, 8) and tuple(s["xrec"].shape) == (2, 1, 32, 32))
    ch = [m.decoder.up[i].block[0].conv2.out_channels for i in range(3)]
    truth("decoder up[i] has the channels of encoder level i (64, 128, 128)", ch == [64, 128, 128])
    lp = LPIPS().eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    truth("LPIPS(x, x) == 0 and shape (1, 1, 1, 1)", lp(x, x).abs().max().item() == 0.0 and tuple(lp(x, x).shape) == (1, 1, 1, 1))


def test_safetensors():
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "t.safetensors")
        t = {"b": np.arange(3, dtype=np.int64), "a": np.array([[1.5, -2.0]], dtype=np.float32), "s": np.float32(7)}
        safetensors_np.save_file(t, p, metadata={"k": "v"})
        blob = open(p, "rb").read()
        (n,) = struct.unpack("<Q", blob[:8])
        truth("safetensors: header length is a multiple of 8 and ends the JSON", n % 8 == 0 and blob[8:8 + n].rstrip().endswith(b"}"))
        truth("safetensors: data is the raw little-endian bytes, a then b then s",
              blob[8 + n:] == struct.pack("<2f", 1.5, -2.0) + struct.pack("<3q", 0, 1, 2) + struct.pack("<f", 7))
        back, meta = safetensors_np.load_file(p, with_metadata=True)
        truth("safetensors: round trip (values, dtypes, shapes, metadata)",
              meta == {"k": "v"} and all(back[k].dtype == np.asarray(t[k]).dtype and np.array_equal(back[k], t[k]) for k in t))
        open(p, "wb").write(blob[:-1])
        try:
            safetensors_np.load_file(p)
            truth("safetensors: truncated file is rejected", False)
        except ValueError as e:
            truth("safetensors: truncated file is rejected (%s)" % str(e).split(": ", 1)[1], True)


def test_fixtures_reload():
    import make_fixtures
    with tempfile.TemporaryDirectory() as tmp:
        make_fixtures.main(["tiny32", tmp, "--seed", "3"])
        load = lambda part: safetensors_np.load_file(os.path.join(tmp, "tiny32.%s.safetensors" % part))
        w, x, fwd = load("weights"), load("inputs")["x"], load("forward")
        m = build("tiny32", with_loss=True)
        m.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in w.items()})
        m.train()
        s = m.stages(torch.from_numpy(x.copy()))
        truth("fixtures: reloaded tiny32 reproduces the indices", np.array_equal(s["indices"].numpy(), fwd["indices"]))
        close("fixtures: reloaded tiny32 reproduces xrec", s["xrec"].detach().numpy(), fwd["xrec"], 1e-6)


def main():
    torch.set_num_threads(1)
    for t in (test_attention, test_downsample, test_quantizer_grads, test_disc_losses, test_adaptive_weight,
              test_ema, test_shapes, test_safetensors, test_fixtures_reload):
        t()
    print("----")
    print("%d checks failed: %s" % (len(failures), ", ".join(failures)) if failures else "all selftest checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
