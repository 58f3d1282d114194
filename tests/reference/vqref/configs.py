"""Named model configurations, in taming's config vocabulary (ddconfig + n_embed/embed_dim +
lossconfig) and rosinality's VQVAE() arguments.

  vqgan_f16     taming's VQGAN f16 (ImageNet/OpenImages 1024-code model): 256x256 RGB -> 16x16
  vqgan_fmnist  1-channel 32x32 (Fashion-MNIST padded) -> 8x8, 512 codes, 2-layer discriminator
  tiny32        RGB 32x32 -> 8x8, 256 codes, small enough for quick parity fixtures
  vqvae2        rosinality VQVAE() defaults
"""
import copy

from .taming_vqmodel import VQModel
from .vqvae2 import VQVAE


def _vqgan(ch, ch_mult, num_res_blocks, attn, z, embed_dim, n_embed, res, in_ch, disc_layers, ndf=64,
           disc_start=250001):
    return dict(
        kind="vqgan",
        ddconfig=dict(double_z=False, z_channels=z, resolution=res, in_channels=in_ch, out_ch=in_ch, ch=ch,
                      ch_mult=list(ch_mult), num_res_blocks=num_res_blocks, attn_resolutions=list(attn),
                      dropout=0.0, resamp_with_conv=True),
        n_embed=n_embed, embed_dim=embed_dim,
        lossconfig=dict(disc_start=disc_start, codebook_weight=1.0, pixelloss_weight=1.0,
                        disc_num_layers=disc_layers, disc_in_channels=in_ch, disc_factor=1.0,
                        disc_weight=0.8, perceptual_weight=1.0, disc_ndf=ndf, disc_loss="hinge"),
    )


CONFIGS = {
    # taming configs/*vqgan*.yaml f16: disc_start 250001, disc_weight 0.8, codebook_weight 1.0.
    "vqgan_f16": _vqgan(128, (1, 1, 2, 2, 4), 2, [16], 256, 256, 1024, 256, 3, 3),
    "vqgan_fmnist": _vqgan(64, (1, 2, 2), 1, [8], 64, 64, 512, 32, 1, 2),
    "tiny32": _vqgan(32, (1, 2, 2), 1, [8], 32, 32, 256, 32, 3, 3),
    "vqvae2": dict(kind="vqvae2", args=dict(in_channel=3, channel=128, n_res_block=2, n_res_channel=32,
                                            embed_dim=64, n_embed=512, decay=0.99)),
}


def config(name, **overrides):
    """A deep copy of CONFIGS[name]; overrides replace top-level keys (n_embed, ...)."""
    if name not in CONFIGS:
        raise KeyError("unknown config %r (known: %s)" % (name, ", ".join(sorted(CONFIGS))))
    cfg = copy.deepcopy(CONFIGS[name])
    cfg.update(overrides)
    return cfg


def build(name, with_loss=True, build_lpips=False, legacy=True, **overrides):
    """Instantiate a config. VQGANs get a `loss` submodule when with_loss (LPIPS only when
    build_lpips; without it perceptual_weight is set to 0)."""
    cfg = config(name, **overrides)
    if cfg["kind"] == "vqvae2":
        return VQVAE(**cfg["args"])
    lossconfig = None
    if with_loss:
        lossconfig = dict(cfg["lossconfig"], build_lpips=build_lpips)
        if not build_lpips:
            lossconfig["perceptual_weight"] = 0.0
    return VQModel(cfg["ddconfig"], cfg["n_embed"], cfg["embed_dim"], lossconfig=lossconfig, legacy=legacy)
