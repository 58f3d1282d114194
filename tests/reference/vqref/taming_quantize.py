"""taming-transformers' VectorQuantizer (VectorQuantizer2 in taming/modules/vqvae/quantize.py,
which VQModel imports under the name VectorQuantizer).

Dimension legend: B batch, D = e_dim code dimension, H, W spatial, M = B*H*W positions,
K = n_e codebook entries.

loss, with sg = stop-gradient (detach), zq = codebook row nearest to z:
  legacy=True  (taming's default, what released VQGANs trained with):
      mean((sg(zq) - z)^2) + beta * mean((zq - sg(z))^2)   -> beta weights the codebook term
  legacy=False (the VQ-VAE paper's form):
      beta * mean((sg(zq) - z)^2) + mean((zq - sg(z))^2)   -> beta weights the commitment term
Both have the same value, (1 + beta) * mean((zq - z)^2); only the gradients differ.
Not here: taming's index remapping and sane_index_shape options, Gumbel/EMA variants.
"""
import torch
import torch.nn as nn


class VectorQuantizer(nn.Module):
    def __init__(self, n_e, e_dim, beta=0.25, legacy=True):
        super().__init__()
        self.n_e, self.e_dim, self.beta, self.legacy = n_e, e_dim, beta, legacy
        self.embedding = nn.Embedding(n_e, e_dim)                       # (K, D)
        self.embedding.weight.data.uniform_(-1.0 / n_e, 1.0 / n_e)

    def distances(self, z_flat):
        """Squared distances (M, K) expanded as |z|^2 + |e|^2 - 2 z.e, as taming computes
        them (the rounding of this form decides near-ties, so we keep it)."""
        e = self.embedding.weight
        return (torch.sum(z_flat ** 2, dim=1, keepdim=True) + torch.sum(e ** 2, dim=1)
                - 2 * torch.einsum("bd,dn->bn", z_flat, e.t()))

    def forward(self, z):
        """z (B, D, H, W) -> z_q (B, D, H, W), loss (scalar), (None, None, indices (M,))
        with indices in (b, h, w) row-major order."""
        z = z.permute(0, 2, 3, 1).contiguous()                          # (B, H, W, D)
        z_flat = z.view(-1, self.e_dim)                                  # (M, D)
        d = self.distances(z_flat)                                       # (M, K)
        indices = torch.argmin(d, dim=1)                                 # (M,)
        z_q = self.embedding(indices).view(z.shape)                      # (B, H, W, D)
        commit = torch.mean((z_q.detach() - z) ** 2)
        codebook = torch.mean((z_q - z.detach()) ** 2)
        if self.legacy:
            loss = commit + self.beta * codebook
        else:
            loss = self.beta * commit + codebook
        z_q = z + (z_q - z).detach()                                     # straight-through
        z_q = z_q.permute(0, 3, 1, 2).contiguous()                       # (B, D, H, W)
        return z_q, loss, (None, None, indices)


def codebook_stats(indices, n_e):
    """Codes used at least once, and perplexity exp(-sum p log p) of the code histogram
    (the quantity taming's original VectorQuantizer logged, with its 1e-10 guard)."""
    counts = torch.bincount(indices.reshape(-1), minlength=n_e).double()
    p = counts / counts.sum()
    perplexity = torch.exp(-torch.sum(p * torch.log(p + 1e-10)))
    return int((counts > 0).sum()), float(perplexity)
