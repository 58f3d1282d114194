"""taming-transformers' VQGAN training loss, VQLPIPSWithDiscriminator
(taming/modules/losses/vqperceptual.py), without the logging.

Dimension legend: B batch, C image channels, H, W image size.
Generator step (optimizer_idx 0), x input, x^ reconstruction, D the discriminator:
  rec      = |x - x^| + perceptual_weight * LPIPS(x, x^)          (B, C, H, W), LPIPS broadcast
  nll      = mean(rec)                                              (pixelloss_weight is unused,
                                                                     as in taming)
  g        = -mean(D(x^))
  d_weight = clamp(|grad_last nll| / (|grad_last g| + 1e-4), 0, 1e4), detached, * disc_weight
             (last = decoder.conv_out.weight; Esser et al. 2021, eq. 7)
  loss     = nll + d_weight * disc_factor * g + codebook_weight * mean(qloss)
Discriminator step (optimizer_idx 1): disc_factor * disc_loss(D(sg x), D(sg x^)), with
  hinge:   0.5 * (mean(relu(1 - real)) + mean(relu(1 + fake)))
  vanilla: 0.5 * (mean(softplus(-real)) + mean(softplus(fake)))
disc_factor = adopt_weight(disc_factor, global_step, disc_start): 0 before disc_start.
Not here: the conditional discriminator (disc_conditional) and the log dict.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .lpips import LPIPS
from .taming_disc import NLayerDiscriminator, weights_init


def hinge_d_loss(logits_real, logits_fake):
    return 0.5 * (torch.mean(F.relu(1.0 - logits_real)) + torch.mean(F.relu(1.0 + logits_fake)))


def vanilla_d_loss(logits_real, logits_fake):
    return 0.5 * (torch.mean(F.softplus(-logits_real)) + torch.mean(F.softplus(logits_fake)))


def adopt_weight(weight, global_step, threshold=0, value=0.0):
    return value if global_step < threshold else weight


class VQLPIPSWithDiscriminator(nn.Module):
    def __init__(self, disc_start, codebook_weight=1.0, pixelloss_weight=1.0, disc_num_layers=3,
                 disc_in_channels=3, disc_factor=1.0, disc_weight=1.0, perceptual_weight=1.0,
                 use_actnorm=False, disc_ndf=64, disc_loss="hinge", build_lpips=True):
        """build_lpips=False leaves out the (frozen, 14.7M-parameter) LPIPS network; it is
        then an error to ask for perceptual_weight > 0."""
        super().__init__()
        assert disc_loss in ("hinge", "vanilla")
        self.codebook_weight = codebook_weight
        self.pixel_weight = pixelloss_weight
        self.perceptual_weight = perceptual_weight
        if build_lpips:
            self.perceptual_loss = LPIPS().eval()
        else:
            assert perceptual_weight == 0, "perceptual_weight > 0 needs build_lpips=True"
            self.perceptual_loss = None
        self.discriminator = NLayerDiscriminator(input_nc=disc_in_channels, n_layers=disc_num_layers,
                                                 use_actnorm=use_actnorm, ndf=disc_ndf)
        self.discriminator.apply(weights_init)
        self.discriminator_iter_start = disc_start
        self.disc_loss = hinge_d_loss if disc_loss == "hinge" else vanilla_d_loss
        self.disc_factor = disc_factor
        self.discriminator_weight = disc_weight

    def calculate_adaptive_weight(self, nll_loss, g_loss, last_layer):
        nll_grads = torch.autograd.grad(nll_loss, last_layer, retain_graph=True)[0]
        g_grads = torch.autograd.grad(g_loss, last_layer, retain_graph=True)[0]
        d_weight = torch.norm(nll_grads) / (torch.norm(g_grads) + 1e-4)
        d_weight = torch.clamp(d_weight, 0.0, 1e4).detach()
        return d_weight * self.discriminator_weight

    def forward(self, codebook_loss, inputs, reconstructions, optimizer_idx, global_step,
                last_layer=None):
        """Returns (loss, parts) where parts holds every intermediate named as above."""
        inputs, reconstructions = inputs.contiguous(), reconstructions.contiguous()
        disc_factor = adopt_weight(self.disc_factor, global_step, threshold=self.discriminator_iter_start)
        if optimizer_idx == 0:
            rec_loss = torch.abs(inputs - reconstructions)
            p_loss = torch.zeros(())
            if self.perceptual_weight > 0:
                p_loss = self.perceptual_loss(inputs, reconstructions)      # (B, 1, 1, 1)
                rec_loss = rec_loss + self.perceptual_weight * p_loss
            nll_loss = torch.mean(rec_loss)
            logits_fake = self.discriminator(reconstructions)
            g_loss = -torch.mean(logits_fake)
            try:
                d_weight = self.calculate_adaptive_weight(nll_loss, g_loss, last_layer)
            except RuntimeError:               # no graph (validation under no_grad): taming uses 0
                assert not self.training
                d_weight = torch.tensor(0.0)
            loss = nll_loss + d_weight * disc_factor * g_loss + self.codebook_weight * codebook_loss.mean()
            return loss, dict(rec_loss=rec_loss, p_loss=p_loss, nll_loss=nll_loss, logits_fake=logits_fake,
                              g_loss=g_loss, d_weight=d_weight, disc_factor=torch.tensor(float(disc_factor)),
                              quant_loss=codebook_loss.mean(), loss=loss)
        if optimizer_idx == 1:
            logits_real = self.discriminator(inputs.detach())
            logits_fake = self.discriminator(reconstructions.detach())
            d_loss = disc_factor * self.disc_loss(logits_real, logits_fake)
            return d_loss, dict(logits_real=logits_real, logits_fake=logits_fake, d_loss=d_loss,
                                disc_factor=torch.tensor(float(disc_factor)))
        raise ValueError("optimizer_idx must be 0 or 1")
