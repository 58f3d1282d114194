"""taming-transformers' PatchGAN discriminator (taming/modules/discriminator/model.py, after
pix2pix's NLayerDiscriminator), its weights_init and ActNorm.

Layout of `main` (one nn.Sequential, so names are main.0, main.2, main.3, ...), kernel 4, pad 1:
  conv(in -> ndf, s2, bias), LeakyReLU(0.2)
  for n in 1..n_layers-1: conv(s2, no bias) -> ndf*min(2^n, 8), norm, LeakyReLU(0.2)
  conv(s1, no bias) -> ndf*min(2^n_layers, 8), norm, LeakyReLU(0.2)
  conv(s1, bias) -> 1
With ActNorm the convs before a norm do get a bias (taming: use_bias = norm is not BatchNorm).
(B, in, H, W) -> logits (B, 1, H', W'); for 32x32 and 3 layers: 16, 8, 4, 3, 2.
"""
import torch
import torch.nn as nn


class ActNorm(nn.Module):
    """Per-channel affine h = scale * (x + loc), initialized from the first training batch
    (loc = -mean, scale = 1 / (std + 1e-6), std unbiased) as in Glow. Parameters are stored
    (1, C, 1, 1); `initialized` is a uint8 buffer."""

    def __init__(self, num_features, logdet=False, affine=True):
        super().__init__()
        assert affine and not logdet, "only the form the discriminator uses"
        self.loc = nn.Parameter(torch.zeros(1, num_features, 1, 1))
        self.scale = nn.Parameter(torch.ones(1, num_features, 1, 1))
        self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))

    @torch.no_grad()
    def initialize(self, x):
        flat = x.permute(1, 0, 2, 3).contiguous().view(x.shape[1], -1)   # (C, B*H*W)
        mean = flat.mean(1).view(1, -1, 1, 1)
        std = flat.std(1).view(1, -1, 1, 1)
        self.loc.data.copy_(-mean)
        self.scale.data.copy_(1.0 / (std + 1e-6))

    def forward(self, x):
        if self.training and self.initialized.item() == 0:
            self.initialize(x)
            self.initialized.fill_(1)
        return self.scale * (x + self.loc)


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc=3, ndf=64, n_layers=3, use_actnorm=False):
        super().__init__()
        norm_layer = ActNorm if use_actnorm else nn.BatchNorm2d
        use_bias = use_actnorm
        kw, padw = 4, 1
        seq = [nn.Conv2d(input_nc, ndf, kw, stride=2, padding=padw), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            seq += [nn.Conv2d(ndf * prev, ndf * mult, kw, stride=2, padding=padw, bias=use_bias),
                    norm_layer(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, kw, stride=1, padding=padw, bias=use_bias),
                norm_layer(ndf * mult), nn.LeakyReLU(0.2, True)]
        seq += [nn.Conv2d(ndf * mult, 1, kw, stride=1, padding=padw)]
        self.main = nn.Sequential(*seq)

    def forward(self, x):
        return self.main(x)


def weights_init(m):
    """pix2pix/taming init, applied with .apply(): conv weights N(0, 0.02) (conv biases keep
    PyTorch's default init), BatchNorm weight N(1, 0.02) and bias 0. Matched on the class
    name as taming does, so ActNorm is left alone."""
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)
