#!/usr/bin/python3
"""Checks that the vqref models carry exactly the tensor names and shapes of the reference
implementations, and the parameter totals those lists state in their header comments:

  tests/ref/taming_vqgan_f16_tensors.txt   taming VQModel f16 + its loss.discriminator
  tests/ref/vqvae2_tensors.txt             rosinality VQVAE() (parameters + EMA buffers)
plus LPIPS's layout (torchvision VGG16 feature indices, lin0..lin4), listed below by hand.

Exit status 0 when everything matches; otherwise each difference is printed and it exits 1.
Usage: /usr/bin/python3 tests/reference/check_names.py [--dump MODEL]   (MODEL: a config name
or `lpips`; --dump prints that model's state_dict table and exits).
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
REF = os.path.join(HERE, "..", "ref")

import torch  # noqa: E402  (after the path set-up on purpose)

from vqref import build, LPIPS, NLayerDiscriminator  # noqa: E402
from vqref.names import tensor_table, format_table, parse_table  # noqa: E402

failures = []


def check(ok, what):
    print("%s  %s" % ("ok  " if ok else "FAIL", what))
    if not ok:
        failures.append(what)


def numel(rows):
    n = 0
    for _, shape in rows:
        k = 1
        for d in shape:
            k *= d
        n += k
    return n


def compare(label, got, want):
    """Same set of names, same shape for each, no duplicates (order is not compared: the
    reference lists follow execution order, state_dict follows construction order)."""
    g, w = dict(got), dict(want)
    check(len(g) == len(got) and len(w) == len(want), "%s: no duplicate names" % label)
    missing = [n for n, _ in want if n not in g]
    extra = [n for n, _ in got if n not in w]
    wrong = ["%s: have %s, want %s" % (n, g[n], w[n]) for n, _ in want if n in g and g[n] != w[n]]
    for what, lst in (("missing", missing), ("unexpected", extra), ("wrong shape", wrong)):
        for item in lst[:20]:
            print("      %s %s" % (what, item))
    check(not missing and not extra and not wrong,
          "%s: %d tensors, names and shapes equal (%d missing, %d unexpected, %d wrong shape)"
          % (label, len(want), len(missing), len(extra), len(wrong)))


def header_number(comments, pattern, label):
    m = re.search(pattern, " ".join(comments))
    if not m:
        check(False, "header of %s states %s" % (label, pattern))
        return [-1] * re.compile(pattern).groups
    return [int(x) for x in m.groups()]


def check_taming():
    path = os.path.join(REF, "taming_vqgan_f16_tensors.txt")
    want, comments = parse_table(open(path).read())
    model = build("vqgan_f16", with_loss=True, build_lpips=False)
    got = tensor_table(model, params_only=True)
    compare("taming f16 parameters", got, want)

    # Everything else in the state_dict must be the discriminator's BatchNorm statistics.
    bufs = [n for n, _ in tensor_table(model) if n not in dict(got)]
    want_bufs = ["loss.discriminator.main.%d.%s" % (i, b) for i in (3, 6, 9)
                 for b in ("running_mean", "running_var", "num_batches_tracked")]
    check(sorted(bufs) == sorted(want_bufs), "taming f16 buffers are exactly the BatchNorm stats of main.3/6/9")

    enc, dec, q, q16k, disc, disc2 = header_number(
        comments, r"encoder (\d+), decoder (\d+), quantize\.embedding\+quant_conv\+post_quant_conv (\d+) "
                  r"\((\d+) with n_embed 16384\), discriminator (\d+) \((\d+) with n_layers 2\)", path)
    part = lambda prefixes, rows: numel([r for r in rows if r[0].startswith(prefixes)])
    check(part("encoder.", got) == enc, "encoder total %d == %d" % (part("encoder.", got), enc))
    check(part("decoder.", got) == dec, "decoder total %d == %d" % (part("decoder.", got), dec))
    qp = ("quantize.", "quant_conv.", "post_quant_conv.")
    check(part(qp, got) == q, "quantize+quant_conv+post_quant_conv total %d == %d" % (part(qp, got), q))
    big = build("vqgan_f16", with_loss=False, n_embed=16384)
    got16k = part(qp, tensor_table(big, params_only=True))
    check(got16k == q16k, "same with n_embed 16384: %d == %d" % (got16k, q16k))
    check(part("loss.discriminator.", got) == disc,
          "discriminator total %d == %d" % (part("loss.discriminator.", got), disc))
    d2 = numel(tensor_table(NLayerDiscriminator(input_nc=3, ndf=64, n_layers=2), params_only=True))
    check(d2 == disc2, "discriminator with n_layers 2: %d == %d" % (d2, disc2))
    check(part(("encoder.", "decoder.", "quantize.", "quant_conv.", "post_quant_conv.", "loss."), got) == numel(got),
          "no parameter outside encoder/decoder/quantize/quant convs/loss")


def check_vqvae2():
    path = os.path.join(REF, "vqvae2_tensors.txt")
    want, comments = parse_table(open(path).read())
    model = build("vqvae2")
    compare("VQ-VAE-2 state_dict", tensor_table(model), want)
    trainable, ema = header_number(comments, r"trainable parameters (\d+); EMA codebook buffers (\d+)", path)
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n_ema = sum(b.numel() for _, b in model.named_buffers())
    check(n_train == trainable, "VQ-VAE-2 trainable parameters %d == %d" % (n_train, trainable))
    check(n_ema == ema, "VQ-VAE-2 EMA buffers %d == %d" % (n_ema, ema))


def lpips_expected():
    """LPIPS (VGG) state_dict as the LPIPS package and taming lay it out: the conv layers of
    torchvision vgg16().features at indices 0,2 | 5,7 | 10,12,14 | 17,19,21 | 24,26,28."""
    rows = [("scaling_layer.shift", (1, 3, 1, 1)), ("scaling_layer.scale", (1, 3, 1, 1))]
    convs = {1: [(0, 3, 64), (2, 64, 64)], 2: [(5, 64, 128), (7, 128, 128)],
             3: [(10, 128, 256), (12, 256, 256), (14, 256, 256)],
             4: [(17, 256, 512), (19, 512, 512), (21, 512, 512)],
             5: [(24, 512, 512), (26, 512, 512), (28, 512, 512)]}
    for s, layers in convs.items():
        for i, cin, cout in layers:
            rows += [("net.slice%d.%d.weight" % (s, i), (cout, cin, 3, 3)), ("net.slice%d.%d.bias" % (s, i), (cout,))]
    rows += [("lin%d.model.1.weight" % k, (1, c, 1, 1)) for k, c in enumerate([64, 128, 256, 512, 512])]
    return rows


def check_lpips():
    lp = LPIPS()
    compare("LPIPS state_dict", tensor_table(lp), lpips_expected())
    n_vgg = sum(p.numel() for n, p in lp.named_parameters() if n.startswith("net."))
    check(n_vgg == 14714688, "VGG16 conv features hold 14714688 parameters (have %d)" % n_vgg)
    check(not any(p.requires_grad for p in lp.parameters()), "LPIPS parameters are frozen")


def main(argv):
    if len(argv) == 3 and argv[1] == "--dump":
        m = LPIPS() if argv[2] == "lpips" else build(argv[2], with_loss=True, build_lpips=False)
        sys.stdout.write(format_table(tensor_table(m)))
        return 0
    if len(argv) != 1:
        sys.stderr.write(__doc__)
        return 2
    torch.manual_seed(0)
    check_taming()
    check_vqvae2()
    check_lpips()
    print("----")
    print("%d checks failed" % len(failures) if failures else "all name/shape/total checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
