"""FLOP counts for the benchmark's GFLOP/s column: 2 x the multiply-adds of every convolution and
matrix product, nothing else (norms, activations, softmax, losses and Adam are left out: they are
memory-bound and small next to the convolutions).

Two independent counters, so each checks the other (tests/scripts/bench_smoke.sh):

- DispatchFlopCounter: a TorchDispatchMode that sees every aten op PyTorch actually runs, forward
  and backward. Counted ops (shapes from the op's arguments):
    convolution            2 * B * Co * Ho * Wo * (Ci / groups) * kh * kw
    convolution_backward   the same product once for the input gradient and once for the weight
                           gradient, each only when autograd asks for it (output_mask)
    mm, addmm              2 * M * N * K;   bmm, baddbmm   2 * B * M * N * K
  So a training step's count is what the reference step executes: the backward of the first conv
  has no input gradient, the discriminator's weights get no gradient in the generator step (they
  are frozen there, as Lightning's toggle_optimizer does), and taming's adaptive weight adds its
  two autograd.grad passes.
- forward_flops_by_hooks: forward pass only, from nn.Conv2d forward hooks (output numel * Ci/g *
  kh * kw * 2) plus the two matrix products of the models' matmul sites worked out from shapes:
  AttnBlock (B, N, C) x (B, C, N) and (B, C, N) x (B, N, N): 2 * 2 * B * N^2 * C; the quantizer
  distance z (M, D) x e^T (D, K): 2 * M * D * K.
"""
import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten


def _prod(xs):
    p = 1
    for x in xs:
        p *= int(x)
    return p


def conv_flops(x_shape, w_shape, out_shape, transposed=False):
    """2 * multiply-adds of one convolution pass. w_shape (Co, Ci/g, kh, kw); for a transposed conv
    (Ci, Co/g, kh, kw) and the work is counted on the input grid instead."""
    if transposed:
        return 2 * _prod(x_shape) * _prod(w_shape[1:])
    return 2 * _prod(out_shape) * _prod(w_shape[1:])


class DispatchFlopCounter(TorchDispatchMode):
    """with DispatchFlopCounter() as c: ...   then c.total and c.by_op {op name: flops}."""

    def __init__(self):
        super().__init__()
        self.total = 0
        self.by_op = {}

    def _add(self, name, n):
        self.total += n
        self.by_op[name] = self.by_op.get(name, 0) + n

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        packet = func.overloadpacket
        if packet is aten.convolution:
            x, w, transposed = args[0], args[1], args[6]
            self._add("convolution", conv_flops(x.shape, w.shape, out.shape, transposed))
        elif packet is aten.convolution_backward:
            gy, x, w, transposed, mask = args[0], args[1], args[2], args[7], args[10]
            n = conv_flops(x.shape, w.shape, gy.shape, transposed)
            if mask[0]:
                self._add("convolution_backward.input", n)
            if mask[1]:
                self._add("convolution_backward.weight", n)
        elif packet in (aten.mm, aten.addmm):
            a, b = (args[0], args[1]) if packet is aten.mm else (args[1], args[2])
            self._add(packet.__name__, 2 * a.shape[0] * a.shape[1] * b.shape[1])
        elif packet in (aten.bmm, aten.baddbmm):
            a, b = (args[0], args[1]) if packet is aten.bmm else (args[1], args[2])
            self._add(packet.__name__, 2 * a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2])
        return out


def forward_flops_by_hooks(model, x):
    """Forward FLOPs of a vqref VQModel on x (encode + quantize + decode), counted with module hooks
    and shape formulas instead of the dispatcher."""
    from vqref.taming_blocks import AttnBlock
    from vqref.taming_quantize import VectorQuantizer
    total = [0]
    hooks = []

    def conv_hook(m, inp, out):
        total[0] += conv_flops(inp[0].shape, m.weight.shape, out.shape)

    def attn_hook(m, inp, out):
        b, c, h, w = inp[0].shape
        total[0] += 2 * 2 * b * (h * w) ** 2 * c

    def quant_hook(m, inp, out):
        b, d, h, w = inp[0].shape
        total[0] += 2 * b * h * w * d * m.embedding.weight.shape[0]

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, AttnBlock):
            hooks.append(m.register_forward_hook(attn_hook))
        elif isinstance(m, VectorQuantizer):
            hooks.append(m.register_forward_hook(quant_hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return total[0]


def self_check(case_name="tiny@32"):
    """The two counters agree on a case's forward pass, and a lone conv's forward + backward equals
    the formula by hand. Returns a list of failure messages (empty when all is well)."""
    import os
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(here)), "tests", "reference"))
    from cases import get_case
    from torch_bench import build_model
    fails = []
    case = dict(get_case(case_name), mode="fwd", batch=2)
    model, x = build_model(case)
    by_hooks = forward_flops_by_hooks(model, x)
    with DispatchFlopCounter() as c, torch.no_grad():
        model(x)
    if by_hooks != c.total or by_hooks <= 0:
        fails.append("%s forward: hooks count %d != dispatcher count %d" % (case_name, by_hooks, c.total))
    # (2, 4, 9, 9) -> conv 4->6, k3, s2, p1 -> (2, 6, 5, 5): 2 * (2*6*5*5) * (4*3*3) = 21600 per pass;
    # x needs a gradient, so backward makes input + weight gradients: 3 passes in all.
    conv = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1)
    xi = torch.randn(2, 4, 9, 9, requires_grad=True)
    with DispatchFlopCounter() as c:
        conv(xi).sum().backward()
    if c.total != 3 * 21600:
        fails.append("conv fwd+bwd: counted %d, expected %d (%s)" % (c.total, 3 * 21600, c.by_op))
    # (3, 5, 7) x (3, 7, 2): 2 * 3*5*7*2 = 420
    with DispatchFlopCounter() as c:
        torch.bmm(torch.randn(3, 5, 7), torch.randn(3, 7, 2))
    if c.total != 420:
        fails.append("bmm: counted %d, expected 420" % c.total)
    return fails


if __name__ == "__main__":
    import sys
    problems = self_check(*sys.argv[1:2])
    for p in problems:
        print("flops self-check: FAIL: " + p, file=sys.stderr)
    if not problems:
        print("flops self-check: ok (hooks == dispatcher on the forward pass; conv and bmm by hand)")
    sys.exit(1 if problems else 0)
