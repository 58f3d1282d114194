/* parity_names.c: what make_fixtures.py calls the values the generated model names its own
 * way (losses, code indices, quantizer inputs), and which optimizer owns a tensor.
 * The GAN half's logits_real / logits_fake are means of fixture tensors (parity_gan.c). */
#include <string.h>

#include "parity.h"

/* model loss name -> reference loss keys, tried in order (first present in the fixture wins):
 * taming's VQLPIPSWithDiscriminator (loss, nll_loss, qloss) and rosinality's train_vqvae.py
 * (loss, recon_loss, diff_t / diff_b, whose 0.25-weighted sum is latent_loss). */
static const struct { const char *c_name, *ref[3]; } loss_map[] = {
    {"total", {"loss", NULL}},
    {"rec", {"l1_loss", "nll_loss", "recon_loss"}},   /* l1_loss: fixtures that also have p_loss */
    {"p_loss", {"p_loss", NULL}},         /* mean over images of LPIPS, unweighted */
    {"nll", {"nll_loss", NULL}},          /* = rec + perceptual_weight * p_loss */
    {"q_loss", {"qloss", NULL}},
    {"q_loss.quantize", {"qloss", NULL}},
    {"q_loss.quantize_t", {"diff_t", NULL}},
    {"q_loss.quantize_b", {"diff_b", NULL}},
    {"g_loss", {"g_loss", NULL}},
    {"d_weight", {"d_weight", NULL}},
    {"disc_factor", {"disc_factor", NULL}},
    {"d_loss", {"d_loss", NULL}},
    {"logits_real", {"logits_real", NULL}},   /* steps part: per-step means of the disc step's logits */
    {"logits_fake", {"logits_fake", NULL}},
};

/* Model losses that are not compared without the GAN half, and why (gan: only those from
 * `always` on). The adversarial ones are 0 in the model until adversarial()/disc_step() run,
 * while the reference computes g_loss and d_weight even with disc_factor 0. */
enum { GAN_ROWS = 6 };
static const struct { const char *c_name, *why; } loss_pending[] = {
    {"g_loss", "GAN term (adversarial half not run: disc_factor 0)"},
    {"d_weight", "GAN term (adversarial half not run: disc_factor 0)"},
    {"disc_factor", "GAN term (adversarial half not run: disc_factor 0)"},
    {"d_loss", "GAN term (discriminator step not run)"},
    {"logits_real", "GAN term (discriminator step not run)"},
    {"logits_fake", "GAN term (discriminator step not run)"},
    {"p_loss", "LPIPS: the fixture has perceptual_weight 0, no LPIPS weights are loaded"},
};

const char *pt_loss_pending(const char *c_name, int gan, int lpips)
{
    size_t n = sizeof loss_pending / sizeof loss_pending[0] - (lpips ? 1 : 0);   /* p_loss is last */
    for (size_t i = gan ? GAN_ROWS : 0; i < n; i++)
        if (!strcmp(loss_pending[i].c_name, c_name)) return loss_pending[i].why;
    return NULL;
}

/* codebook -> (fixture key of its indices, of its input z (B, D, gh, gw)) */
static const struct { const char *codebook, *indices, *z; } cb_map[] = {
    {"quantize", "indices", "quant_conv"},
    {"quantize_t", "id_t", "quantize_conv_t"},
    {"quantize_b", "id_b", "quantize_conv_b"},
};

const char *pt_ref_loss(const vq_model_desc *d, const vq_st_file *losses, const char *c_name)
{
    (void)d;
    for (size_t i = 0; i < sizeof loss_map / sizeof loss_map[0]; i++) {
        if (strcmp(loss_map[i].c_name, c_name)) continue;
        for (int k = 0; k < 3 && loss_map[i].ref[k]; k++)
            if (vq_st_find(losses, loss_map[i].ref[k])) return loss_map[i].ref[k];
    }
    return NULL;
}

const char *pt_ref_indices(const char *codebook)
{
    for (size_t i = 0; i < sizeof cb_map / sizeof cb_map[0]; i++)
        if (!strcmp(cb_map[i].codebook, codebook)) return cb_map[i].indices;
    return NULL;
}

const char *pt_ref_z(const char *codebook)
{
    for (size_t i = 0; i < sizeof cb_map / sizeof cb_map[0]; i++)
        if (!strcmp(cb_map[i].codebook, codebook)) return cb_map[i].z;
    return NULL;
}

int pt_optimizer_of(const vq_model_desc *d, size_t off, size_t n)
{
    for (int o = 0; o < d->n_optimizers; o++)
        for (int r = 0; r < d->optimizers[o].n_ranges; r++) {
            const vq_slab_range *g = &d->optimizers[o].ranges[r];
            if (off >= g->offset && off + n <= g->offset + g->count) return o;
        }
    return -1;
}

int pt_buffer_owner(const vq_model_desc *d, const vq_tensor_desc *buf)
{
    for (int i = 0; i < d->n_tensors; i++) {
        const vq_tensor_desc *t = &d->tensors[i];
        if (t->role == VQ_ROLE_TRAINABLE && !strcmp(t->module, buf->module))
            return pt_optimizer_of(d, t->offset, t->numel);
    }
    return -1;
}
