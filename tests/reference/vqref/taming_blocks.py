"""Building blocks of taming-transformers' VQGAN encoder/decoder
(taming/modules/diffusionmodules/model.py): ResnetBlock, AttnBlock, Downsample, Upsample.

Dimension legend: B batch, C channels, H, W spatial, N = H*W positions.
Names match taming's (norm1, conv1, norm2, conv2, nin_shortcut; norm, q, k, v, proj_out;
conv) so taming checkpoints load. No timestep embedding: the VQGAN uses temb_ch = 0, so
taming never creates temb_proj and neither do we.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def nonlinearity(x):
    """swish / SiLU written the way taming writes it: x * sigmoid(x)."""
    return x * torch.sigmoid(x)


def Normalize(in_channels):
    """GroupNorm with 32 groups, eps 1e-6, affine (taming's Normalize)."""
    return nn.GroupNorm(num_groups=32, num_channels=in_channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    """x + conv2(dropout(swish(norm2(conv1(swish(norm1(x))))))); 1x1 nin_shortcut on x when
    channels change. (B, Cin, H, W) -> (B, Cout, H, W)."""

    def __init__(self, *, in_channels, out_channels=None, dropout=0.0):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.norm1 = Normalize(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1)
        self.norm2 = Normalize(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1)
        if in_channels != out_channels:
            # taming also has a 3x3 `conv_shortcut` option; VQGAN configs never enable it.
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=1, padding=0)

    def forward(self, x, temb=None):
        assert temb is None, "VQGAN blocks have no timestep embedding"
        h = self.conv1(nonlinearity(self.norm1(x)))
        h = self.conv2(self.dropout(nonlinearity(self.norm2(h))))
        if self.in_channels != self.out_channels:
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock(nn.Module):
    """Single-head self-attention over the N = H*W positions, with a residual.
    w[b, i, j] = softmax_j( sum_c q[b, c, i] k[b, c, j] / sqrt(C) ),
    out[b, c, i] = x[b, c, i] + proj_out( sum_j v[b, c, j] w[b, i, j] )."""

    def __init__(self, in_channels):
        super().__init__()
        self.in_channels = in_channels
        self.norm = Normalize(in_channels)
        self.q = nn.Conv2d(in_channels, in_channels, 1)
        self.k = nn.Conv2d(in_channels, in_channels, 1)
        self.v = nn.Conv2d(in_channels, in_channels, 1)
        self.proj_out = nn.Conv2d(in_channels, in_channels, 1)

    def forward(self, x):
        h = self.norm(x)
        q, k, v = self.q(h), self.k(h), self.v(h)
        b, c, hh, ww = q.shape
        q = q.reshape(b, c, hh * ww).permute(0, 2, 1)      # (B, N, C)
        k = k.reshape(b, c, hh * ww)                       # (B, C, N)
        w = torch.bmm(q, k) * (int(c) ** (-0.5))           # (B, N queries, N keys)
        w = F.softmax(w, dim=2)                            # over keys
        v = v.reshape(b, c, hh * ww)                       # (B, C, N)
        h = torch.bmm(v, w.permute(0, 2, 1))               # (B, C, N queries)
        h = self.proj_out(h.reshape(b, c, hh, ww))
        return x + h


class Upsample(nn.Module):
    """Nearest-neighbour x2, then a 3x3 conv (padding 1) when with_conv.
    (B, C, H, W) -> (B, C, 2H, 2W)."""

    def __init__(self, in_channels, with_conv):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(in_channels, in_channels, 3, stride=1, padding=1)

    def forward(self, x):
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.conv(x) if self.with_conv else x


class Downsample(nn.Module):
    """Asymmetric zero pad (left 0, right 1, top 0, bottom 1), then 3x3 conv stride 2, no
    padding; avg-pool 2x2 without conv. (B, C, H, W) -> (B, C, H/2, W/2) for even H, W."""

    def __init__(self, in_channels, with_conv):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(in_channels, in_channels, 3, stride=2, padding=0)

    def forward(self, x):
        if self.with_conv:
            return self.conv(F.pad(x, (0, 1, 0, 1), mode="constant", value=0.0))
        return F.avg_pool2d(x, kernel_size=2, stride=2)
