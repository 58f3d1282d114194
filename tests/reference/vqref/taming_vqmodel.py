"""taming-transformers' VQModel (taming/models/vqgan.py) without Lightning:
encoder -> quant_conv -> quantize -> post_quant_conv -> decoder, plus its `loss` module.

Dimension legend: B batch, Z z_channels, E embed_dim, K n_embed, h, w latent size.
  x (B, C, R, R) -> encoder h (B, Z, h, w) -> quant_conv (B, E, h, w) -> z_q (B, E, h, w)
  -> post_quant_conv (B, Z, h, w) -> decoder x^ (B, C, R, R)
Attribute order is taming's (encoder, decoder, loss, quantize, quant_conv, post_quant_conv),
so state_dict() lists tensors in the same order as a taming checkpoint's.
Not here: Lightning hooks, data handling, image logging, index remapping.
"""
import torch
import torch.nn as nn

from .taming_coder import Encoder, Decoder
from .taming_quantize import VectorQuantizer


class VQModel(nn.Module):
    def __init__(self, ddconfig, n_embed, embed_dim, lossconfig=None, beta=0.25, legacy=True):
        """lossconfig: keyword arguments for VQLPIPSWithDiscriminator, or None for no `loss`
        submodule. legacy: the quantizer loss form (taming's VQModel uses legacy=True)."""
        super().__init__()
        self.encoder = Encoder(**ddconfig)
        self.decoder = Decoder(**ddconfig)
        if lossconfig is not None:
            from .taming_loss import VQLPIPSWithDiscriminator
            self.loss = VQLPIPSWithDiscriminator(**lossconfig)
        else:
            self.loss = None
        self.quantize = VectorQuantizer(n_embed, embed_dim, beta=beta, legacy=legacy)
        self.quant_conv = nn.Conv2d(ddconfig["z_channels"], embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, ddconfig["z_channels"], 1)

    def encode(self, x):
        h = self.quant_conv(self.encoder(x))
        quant, emb_loss, info = self.quantize(h)
        return quant, emb_loss, info

    def decode(self, quant):
        return self.decoder(self.post_quant_conv(quant))

    def decode_code(self, indices, shape):
        """indices (B*h*w,) -> image, shape = (B, h, w)."""
        zq = self.quantize.embedding(indices.reshape(-1)).view(*shape, -1).permute(0, 3, 1, 2)
        return self.decode(zq.contiguous())

    def forward(self, x):
        quant, diff, _ = self.encode(x)
        return self.decode(quant), diff

    def stages(self, x):
        """Forward pass keeping every stage: dict of encoder_h, quant_conv, indices (B, h, w),
        z_q, post_quant_conv, xrec, qloss."""
        h = self.encoder(x)
        hq = self.quant_conv(h)
        z_q, qloss, (_, _, ind) = self.quantize(hq)
        pq = self.post_quant_conv(z_q)
        xrec = self.decoder(pq)
        return dict(encoder_h=h, quant_conv=hq, indices=ind.view(hq.shape[0], hq.shape[2], hq.shape[3]),
                    z_q=z_q, post_quant_conv=pq, xrec=xrec, qloss=qloss)

    def get_last_layer(self):
        return self.decoder.conv_out.weight

    def ae_parameters(self):
        """What taming's first optimizer trains: everything except the loss module."""
        for name, p in self.named_parameters():
            if not name.startswith("loss."):
                yield p
