"""rosinality/vq-vae-2-pytorch's VQVAE (vqvae.py): the two-level VQ-VAE-2 of Razavi et al. 2019
with EMA codebooks, and its training loss (train_vqvae.py).

Dimension legend: B batch, C channel (128), R n_res_channel (32), D embed_dim (64),
K n_embed (512); image S x S, bottom latent S/4, top latent S/8.
  enc_b: x (B, 3, S, S) -> (B, C, S/4, S/4);  enc_t: -> (B, C, S/8, S/8)
  quantize_conv_t -> (B, D, S/8, S/8) -> NHWC -> quantize_t -> quant_t (B, D, S/8, S/8)
  dec_t: quant_t -> (B, D, S/4, S/4); quantize_conv_b on cat(dec_t, enc_b) (B, D+C, ..)
  quantize_b -> quant_b (B, D, S/4, S/4); upsample_t: quant_t -> (B, D, S/4, S/4)
  dec on cat(upsample_t, quant_b) (B, 2D, S/4, S/4) -> (B, 3, S, S)
Quantize stores embed as (D, K) (transposed relative to taming) and keeps the EMA state in
buffers embed, cluster_size (K,), embed_avg (D, K). Not here: the PixelSNAIL priors and the
distributed all_reduce (a no-op on one process).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Quantize(nn.Module):
    """Nearest-code quantizer with exponential-moving-average codebook updates (van den Oord
    et al. 2017, appendix A.1), applied in train mode after the codes are read:
      N_k  <- decay N_k + (1 - decay) n_k                   cluster_size, n_k = count of code k
      m_k  <- decay m_k + (1 - decay) sum_{i: k} z_i         embed_avg
      e_k  <- m_k / ((N_k + eps) / (n + K eps) * n),  n = sum_k N_k   (Laplace smoothing)
    diff = mean((sg(zq) - z)^2); output z + sg(zq - z). Input and output are NHWC (.., D)."""

    def __init__(self, dim, n_embed, decay=0.99, eps=1e-5):
        super().__init__()
        self.dim, self.n_embed, self.decay, self.eps = dim, n_embed, decay, eps
        embed = torch.randn(dim, n_embed)                                # (D, K)
        self.register_buffer("embed", embed)
        self.register_buffer("cluster_size", torch.zeros(n_embed))       # (K,)
        self.register_buffer("embed_avg", embed.clone())                 # (D, K)

    def forward(self, x):
        flat = x.reshape(-1, self.dim)                                   # (M, D)
        dist = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.embed
                + self.embed.pow(2).sum(0, keepdim=True))                # (M, K)
        _, embed_ind = (-dist).max(1)                                    # (M,)
        onehot = F.one_hot(embed_ind, self.n_embed).type(flat.dtype)     # (M, K)
        embed_ind = embed_ind.view(*x.shape[:-1])                        # (B, h, w)
        quantize = self.embed_code(embed_ind)                            # (B, h, w, D)

        if self.training:
            with torch.no_grad():
                onehot_sum = onehot.sum(0)                               # (K,)
                embed_sum = flat.transpose(0, 1) @ onehot                # (D, K)
                self.cluster_size.mul_(self.decay).add_(onehot_sum, alpha=1 - self.decay)
                self.embed_avg.mul_(self.decay).add_(embed_sum, alpha=1 - self.decay)
                n = self.cluster_size.sum()
                cluster_size = (self.cluster_size + self.eps) / (n + self.n_embed * self.eps) * n
                self.embed.copy_(self.embed_avg / cluster_size.unsqueeze(0))

        diff = (quantize.detach() - x).pow(2).mean()
        quantize = x + (quantize - x).detach()
        return quantize, diff, embed_ind

    def embed_code(self, embed_id):
        return F.embedding(embed_id, self.embed.transpose(0, 1))


class ResBlock(nn.Module):
    """x + conv(x), conv = ReLU, 3x3 C -> R, ReLU, 1x1 R -> C (names conv.1, conv.3)."""

    def __init__(self, in_channel, channel):
        super().__init__()
        self.conv = nn.Sequential(nn.ReLU(), nn.Conv2d(in_channel, channel, 3, padding=1),
                                  nn.ReLU(inplace=True), nn.Conv2d(channel, in_channel, 1))

    def forward(self, x):
        out = self.conv(x)
        out += x
        return out


class Encoder(nn.Module):
    """stride 4: conv4x4 s2 -> C/2, ReLU, conv4x4 s2 -> C, ReLU, conv3x3 -> C;
    stride 2: conv4x4 s2 -> C/2, ReLU, conv3x3 -> C; then n_res_block ResBlocks and a ReLU."""

    def __init__(self, in_channel, channel, n_res_block, n_res_channel, stride):
        super().__init__()
        if stride == 4:
            blocks = [nn.Conv2d(in_channel, channel // 2, 4, stride=2, padding=1), nn.ReLU(inplace=True),
                      nn.Conv2d(channel // 2, channel, 4, stride=2, padding=1), nn.ReLU(inplace=True),
                      nn.Conv2d(channel, channel, 3, padding=1)]
        elif stride == 2:
            blocks = [nn.Conv2d(in_channel, channel // 2, 4, stride=2, padding=1), nn.ReLU(inplace=True),
                      nn.Conv2d(channel // 2, channel, 3, padding=1)]
        else:
            raise ValueError("stride must be 2 or 4")
        blocks += [ResBlock(channel, n_res_channel) for _ in range(n_res_block)]
        blocks.append(nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        return self.blocks(x)


class Decoder(nn.Module):
    """conv3x3 in -> C, ResBlocks, ReLU, then transposed convs 4x4 s2 p1:
    stride 4: C -> C/2, ReLU, C/2 -> out; stride 2: C -> out."""

    def __init__(self, in_channel, out_channel, channel, n_res_block, n_res_channel, stride):
        super().__init__()
        blocks = [nn.Conv2d(in_channel, channel, 3, padding=1)]
        blocks += [ResBlock(channel, n_res_channel) for _ in range(n_res_block)]
        blocks.append(nn.ReLU(inplace=True))
        if stride == 4:
            blocks += [nn.ConvTranspose2d(channel, channel // 2, 4, stride=2, padding=1), nn.ReLU(inplace=True),
                       nn.ConvTranspose2d(channel // 2, out_channel, 4, stride=2, padding=1)]
        elif stride == 2:
            blocks.append(nn.ConvTranspose2d(channel, out_channel, 4, stride=2, padding=1))
        else:
            raise ValueError("stride must be 2 or 4")
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        return self.blocks(x)


class VQVAE(nn.Module):
    def __init__(self, in_channel=3, channel=128, n_res_block=2, n_res_channel=32, embed_dim=64,
                 n_embed=512, decay=0.99):
        super().__init__()
        self.enc_b = Encoder(in_channel, channel, n_res_block, n_res_channel, stride=4)
        self.enc_t = Encoder(channel, channel, n_res_block, n_res_channel, stride=2)
        self.quantize_conv_t = nn.Conv2d(channel, embed_dim, 1)
        # rosinality passes no decay here: the VQVAE `decay` argument is unused (both 0.99).
        self.quantize_t = Quantize(embed_dim, n_embed)
        self.dec_t = Decoder(embed_dim, embed_dim, channel, n_res_block, n_res_channel, stride=2)
        self.quantize_conv_b = nn.Conv2d(embed_dim + channel, embed_dim, 1)
        self.quantize_b = Quantize(embed_dim, n_embed)
        self.upsample_t = nn.ConvTranspose2d(embed_dim, embed_dim, 4, stride=2, padding=1)
        self.dec = Decoder(embed_dim + embed_dim, in_channel, channel, n_res_block, n_res_channel, stride=4)

    def forward(self, x):
        quant_t, quant_b, diff, _, _ = self.encode(x)
        return self.decode(quant_t, quant_b), diff

    def encode(self, x):
        s = self.stages(x, decode=False)
        return s["quant_t"], s["quant_b"], s["diff"], s["id_t"], s["id_b"]

    def decode(self, quant_t, quant_b):
        return self.dec(torch.cat([self.upsample_t(quant_t), quant_b], 1))

    def decode_code(self, code_t, code_b):
        quant_t = self.quantize_t.embed_code(code_t).permute(0, 3, 1, 2)
        quant_b = self.quantize_b.embed_code(code_b).permute(0, 3, 1, 2)
        return self.decode(quant_t, quant_b)

    def stages(self, x, decode=True):
        """Forward pass keeping every stage (NCHW tensors; id_* are (B, h, w) int64;
        diff has shape (1,) as in rosinality, diff_t + diff_b)."""
        s = {}
        s["enc_b"] = enc_b = self.enc_b(x)
        s["enc_t"] = enc_t = self.enc_t(enc_b)
        s["quantize_conv_t"] = qt = self.quantize_conv_t(enc_t)
        quant_t, diff_t, s["id_t"] = self.quantize_t(qt.permute(0, 2, 3, 1))
        s["quant_t"] = quant_t = quant_t.permute(0, 3, 1, 2)
        s["diff_t"] = diff_t = diff_t.unsqueeze(0)
        s["dec_t"] = dec_t = self.dec_t(quant_t)
        s["quantize_conv_b"] = qb = self.quantize_conv_b(torch.cat([dec_t, enc_b], 1))
        quant_b, diff_b, s["id_b"] = self.quantize_b(qb.permute(0, 2, 3, 1))
        s["quant_b"] = quant_b = quant_b.permute(0, 3, 1, 2)
        s["diff_b"] = diff_b = diff_b.unsqueeze(0)
        s["diff"] = diff_t + diff_b
        if decode:
            s["upsample_t"] = up = self.upsample_t(quant_t)
            s["xrec"] = self.dec(torch.cat([up, quant_b], 1))
        return s


def vqvae2_loss(xrec, x, latent_diff, latent_loss_weight=0.25):
    """train_vqvae.py: MSE(xrec, x) + latent_loss_weight * mean(latent diff).
    Returns (loss, recon_loss, latent_loss)."""
    recon = F.mse_loss(xrec, x)
    latent = latent_diff.mean()
    return recon + latent_loss_weight * latent, recon, latent
