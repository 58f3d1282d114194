/* emit_gan.c: the adversarial and perceptual parts of a generated model, as
 * taming-transformers' VQLPIPSWithDiscriminator computes them:
 *
 *   nll     = REC_WEIGHT * mean|x - x_hat| + PERCEPTUAL_WEIGHT * mean_b LPIPS(x_b, x_hat_b)
 *   g_loss  = -mean D(x_hat)                                 (D in training mode)
 *   d_weight = clamp(|d nll/dL| / (|d g_loss/dL| + 1e-4), 0, 1e4) * DISC_WEIGHT, detached
 *   total   = nll + d_weight * disc_factor * g_loss + CODEBOOK_WEIGHT * q_loss
 *   d_loss  = disc_factor * 0.5 * (mean relu(1 - D(x)) + mean relu(1 + D(sg(x_hat))))   (hinge)
 *
 * L is the weight of the conv2d that produces x_hat (decoder.conv_out.weight).
 * Both gradients at L are one weight-gradient of that conv each, from the two
 * terms' gradients at x_hat, so d_weight costs no second backward pass: the
 * generator's pass through D (input gradient only, no discriminator weight
 * gradients) gives d g_loss/d x_hat, which backward() then adds, scaled by
 * d_weight * disc_factor, to the reconstruction's gradient.
 *
 * Generated functions: run_disc (the discriminator's forward units), its two
 * backwards (to the input; to the parameters), model_adversarial (the
 * generator's term, between forward and backward), model_disc_step (the
 * discriminator's loss and gradients on the last forward's x and x_hat),
 * model_discriminate (logits of any images, e.g. for eval) and
 * model_set_lpips. Where the schedule comes from: autodiff.c (steps from
 * g->disc_step0 on), memplan.c (the discriminator's own arena region).
 */
#include <stdlib.h>
#include <string.h>

#include "emit_internal.h"

static int perceptual(const cg *g) { return ir_get_float(&g->m->loss, "perceptual_weight", 0.0) > 0.0; }
static int64_t img_numel(const cg *g) { return ir_shape_numel(&g->m->image); }
static int64_t logits_numel(const cg *g) { return cg_tensor_per_image(g, g->disc_out_t); }
static int64_t adapt_numel(const cg *g) { return ir_shape_numel(&g->m->params[g->adapt_param].shape); }

static int term_index(const cg *g, const char *name)
{
    for (int i = 0; i < g->n_terms; i++)
        if (strcmp(g->term_names[i], name) == 0) return 1 + i;
    return -1;
}

void emit_loss_index_macros(cwriter *w, const cg *g)
{
    static const struct { const char *term, *macro; } slots[] = {
        {"rec", "LOSS_REC"}, {"p_loss", "LOSS_P"}, {"nll", "LOSS_NLL"}, {"g_loss", "LOSS_G"},
        {"d_weight", "LOSS_DW"}, {"disc_factor", "LOSS_DF"}, {"d_loss", "LOSS_D"},
        {"logits_real", "LOSS_LREAL"}, {"logits_fake", "LOSS_LFAKE"},
    };
    cw_line(w, "/* loss[] slots (loss_names order); loss[LOSS_Q + c] is codebook c's loss */");
    int q = 0;
    for (int i = 0; i < g->n_terms && !q; i++)
        if (strncmp(g->term_names[i], "q_loss", 6) == 0) q = 1 + i;
    cw_line(w, "#define LOSS_Q %d", q);
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        int k = term_index(g, slots[i].term);
        if (k >= 0) cw_line(w, "#define %s %d", slots[i].macro, k);
    }
    char num[40];
    cw_line(w, "#define PERCEPTUAL_WEIGHT %s", cw_double(num, ir_get_float(&g->m->loss, "perceptual_weight", 0.0)));
    if (g->has_disc) cw_line(w, "#define DISC_WEIGHT %s", cw_double(num, ir_get_float(&g->m->loss, "disc_weight", 1.0)));
}

void emit_gan_members(emit_ctx *e)
{
    cwriter *w = e->w;
    cw_line(w, "int have_xhat;                /* a forward ran: XIN and RECON hold x and x_hat */");
    if (perceptual(e->g)) {
        cw_line(w, "vq_lpips *lpips;             /* the perceptual term's network, or NULL: no perceptual term */");
        cw_line(w, "float *p_img;                /* (MB) LPIPS per image */");
        cw_line(w, "float *p_dx;                 /* (MB, C, H, W) d PERCEPTUAL_WEIGHT * mean LPIPS / d x_hat */");
        cw_line(w, "int p_dx_ready;");
    }
    if (e->g->has_disc) {
        cw_line(w, "float gan_scale;             /* d_weight * disc_factor of the last adversarial(), else 0 */");
        cw_line(w, "float *gan_dnll, *gan_dg;    /* (MB, C, H, W) d nll / d x_hat, d g_loss / d x_hat */");
        cw_line(w, "float *gan_gl;               /* (2, %s) the two gradients at the adaptive-weight layer */",
                e->g->m->params[e->g->adapt_param].name);
        cw_line(w, "float *logits_real;          /* (MB, %lld) the discriminator step's D(x) */",
                (long long)logits_numel(e->g));
    }
}

void emit_gan_create(emit_ctx *e)
{
    cwriter *w = e->w;
    const cg *g = e->g;
    long long img = (long long)img_numel(g);
    if (perceptual(g)) {
        cw_line(w, "m->p_img = vq_alloc(sizeof(float) * (size_t)max_b);");
        cw_line(w, "m->p_dx = vq_alloc(sizeof(float) * (size_t)max_b * %lld);", img);
        cw_line(w, "if (!m->p_img || !m->p_dx) rc = VQ_ERR_NOMEM;");
    }
    if (g->has_disc) {
        cw_line(w, "m->gan_dnll = vq_alloc(sizeof(float) * (size_t)max_b * %lld);", img);
        cw_line(w, "m->gan_dg = vq_alloc(sizeof(float) * (size_t)max_b * %lld);", img);
        cw_line(w, "m->gan_gl = vq_alloc(sizeof(float) * 2 * %lld);", (long long)adapt_numel(g));
        cw_line(w, "m->logits_real = vq_alloc(sizeof(float) * (size_t)max_b * %lld);", (long long)logits_numel(g));
        cw_line(w, "if (!m->gan_dnll || !m->gan_dg || !m->gan_gl || !m->logits_real) rc = VQ_ERR_NOMEM;");
    }
}

void emit_gan_destroy(emit_ctx *e)
{
    cwriter *w = e->w;
    if (perceptual(e->g)) {
        cw_line(w, "vq_lpips_free(m->lpips);");
        cw_line(w, "vq_free(m->p_img);");
        cw_line(w, "vq_free(m->p_dx);");
    }
    if (e->g->has_disc) {
        cw_line(w, "vq_free(m->gan_dnll);");
        cw_line(w, "vq_free(m->gan_dg);");
        cw_line(w, "vq_free(m->gan_gl);");
        cw_line(w, "vq_free(m->logits_real);");
    }
}

void emit_gan_forward_losses(emit_ctx *e)
{
    cwriter *w = e->w;
    const cg *g = e->g;
    cw_line(w, "m->have_xhat = 1;");
    if (perceptual(g)) {
        cw_line(w, "/* perceptual term: PERCEPTUAL_WEIGHT * mean over images of LPIPS(x, x_hat) */");
        cw_line(w, "m->p_dx_ready = 0;");
        cw_line(w, "m->loss[LOSS_P] = 0.0f;");
        cw_open(w, "if (m->lpips)");
        cw_line(w, "int prc = vq_lpips_forward(m->lpips, m->p_img, XIN(m), RECON(m), B);");
        cw_line(w, "if (prc) return prc;");
        cw_line(w, "double p = 0.0;");
        cw_line(w, "for (int b = 0; b < B; b++) p += m->p_img[b];");
        cw_line(w, "m->loss[LOSS_P] = (float)(p / B);");
        cw_line(w, "m->loss[0] += (float)(PERCEPTUAL_WEIGHT * m->loss[LOSS_P]);");
        cw_close(w, "");
    }
    if (g->has_disc) {
        cw_line(w, "/* the adversarial slots stay 0 unless adversarial() / disc_step() run */");
        cw_line(w, "m->gan_scale = 0.0f;");
        cw_line(w, "m->loss[LOSS_NLL] = (float)(REC_WEIGHT * m->loss[LOSS_REC]%s);",
                perceptual(g) ? " + PERCEPTUAL_WEIGHT * m->loss[LOSS_P]" : "");
        cw_line(w, "m->loss[LOSS_G] = m->loss[LOSS_DW] = m->loss[LOSS_DF] = m->loss[LOSS_D] = 0.0f;");
        cw_line(w, "m->loss[LOSS_LREAL] = m->loss[LOSS_LFAKE] = 0.0f;");
    }
}

void emit_gan_loss_backward(emit_ctx *e)
{
    cwriter *w = e->w;
    const cg *g = e->g;
    if (!perceptual(g) && !g->has_disc) return;
    cw_line(w, "float *dxh = %s;", e_grad(e, g->recon_t));
    cw_line(w, "const size_t nx = %s;", e_numel(e, g->recon_t));
    if (perceptual(g)) {
        cw_open(w, "if (m->lpips)  /* + the perceptual term's gradient */");
        cw_line(w, "int prc = perceptual_grad(m);");
        cw_line(w, "if (prc) return prc;");
        cw_line(w, "for (size_t i = 0; i < nx; i++) dxh[i] += m->p_dx[i];");
        cw_close(w, "");
    }
    if (g->has_disc) {
        cw_line(w, "/* + d_weight * disc_factor * d g_loss / d x_hat (adversarial(), when it ran) */");
        cw_line(w, "const float gs = m->gan_scale;");
        cw_line(w, "if (gs != 0.0f)");
        cw_line(w, "    for (size_t i = 0; i < nx; i++) dxh[i] += gs * m->gan_dg[i];");
    }
}

/* The discriminator's backward to its input only (no weight gradients: the
 * generator's pass), or to its parameters only (the discriminator's step). */
static void emit_disc_backward(emit_ctx *e, const char **syms, const char *fname, int to_params)
{
    cg *g = e->g;
    char *zeroed = calloc((size_t)(g->n_vals ? g->n_vals : 1), 1);
    zeroed[g->gval[g->disc_out_t]] = 1;   /* the caller wrote d logits */
    int din = g->gval[g->disc_in_t];
    if (to_params) g->gval[g->disc_in_t] = -1;   /* x and sg(x_hat) need no gradient */
    else e->no_param_grads = 1;
    cw_line(e->w, "/* d logits (in the arena) -> %s */", to_params ? "grads of the discriminator's parameters (+=)"
                                                                    : "d input only (no weight gradients)");
    cw_open(e->w, "static void %s(vq_model *m)", fname);
    cw_line(e->w, "const int B = m->B;");
    emit_arena_locals(e->w);
    cw_line(e->w, "float *const P = m->params, *const G = m->grads, *const BU = m->buffers;");
    cw_line(e->w, "(void)A; (void)MB; (void)F; (void)S; (void)P; (void)G; (void)BU; (void)B;");
    emit_backward_units(e, syms, 1, zeroed);
    cw_close(e->w, "");
    cw_blank(e->w);
    g->gval[g->disc_in_t] = din;
    e->no_param_grads = 0;
    free(zeroed);
}

static void locals(cwriter *w)
{
    emit_arena_locals(w);
    cw_line(w, "(void)A; (void)MB; (void)F; (void)S;");
}

static void emit_perceptual_fns(emit_ctx *e)
{
    cwriter *w = e->w;
    const cg *g = e->g;
    long long C = (long long)g->m->image.d[1], H = (long long)g->m->image.d[2], W = (long long)g->m->image.d[3];
    if (!perceptual(g)) {
        cw_open(w, "static int model_set_lpips(vq_model *m, const char *path)");
        cw_line(w, "(void)m; (void)path;");
        cw_line(w, "return vq_fail(VQ_ERR_ARG, \"%s: the loss section has no perceptual term (perceptual_weight 0)\");",
                g->m->name);
        cw_close(w, "");
        cw_blank(w);
        return;
    }
    cw_line(w, "/* Loads the LPIPS weights (scripts/import_lpips.py); without them there is no perceptual term. */");
    cw_open(w, "static int model_set_lpips(vq_model *m, const char *path)");
    cw_line(w, "vq_lpips_free(m->lpips);");
    cw_line(w, "m->lpips = NULL;");
    cw_line(w, "return vq_lpips_load(&m->lpips, path, m->max_b, %lld, %lld, %lld);", C, H, W);
    cw_close(w, "");
    cw_blank(w);
    cw_line(w, "/* p_dx = d (PERCEPTUAL_WEIGHT * mean_b LPIPS_b) / d x_hat, once per forward */");
    cw_open(w, "static int perceptual_grad(vq_model *m)");
    cw_line(w, "if (m->p_dx_ready) return 0;");
    cw_line(w, "const int B = m->B;");
    cw_line(w, "float *w = m->p_img;  /* reused as the per-image upstream gradient */");
    cw_line(w, "for (int b = 0; b < B; b++) w[b] = (float)(PERCEPTUAL_WEIGHT / (double)B);");
    cw_line(w, "memset(m->p_dx, 0, sizeof(float) * (size_t)B * %lld);", C * H * W);
    cw_line(w, "int rc = vq_lpips_backward(m->lpips, m->p_dx, w);");
    cw_line(w, "if (rc) return rc;");
    cw_line(w, "m->p_dx_ready = 1;");
    cw_line(w, "return 0;");
    cw_close(w, "");
    cw_blank(w);
}

static void emit_no_disc(emit_ctx *e)
{
    cwriter *w = e->w;
    const char *nm = e->g->m->name;
    cw_open(w, "static int model_adversarial(vq_model *m, float disc_factor)");
    cw_line(w, "(void)m; (void)disc_factor;");
    cw_line(w, "return vq_fail(VQ_ERR_UNSUPPORTED, \"%s has no discriminator\");", nm);
    cw_close(w, "");
    cw_open(w, "static int model_disc_step(vq_model *m, float disc_factor)");
    cw_line(w, "(void)m; (void)disc_factor;");
    cw_line(w, "return vq_fail(VQ_ERR_UNSUPPORTED, \"%s has no discriminator\");", nm);
    cw_close(w, "");
    cw_open(w, "static int model_discriminate(vq_model *m, const float **logits, const float *x, int B, vq_mode mode)");
    cw_line(w, "(void)m; (void)logits; (void)x; (void)B; (void)mode;");
    cw_line(w, "return vq_fail(VQ_ERR_UNSUPPORTED, \"%s has no discriminator\");", nm);
    cw_close(w, "");
    cw_blank(w);
}

void emit_gan_functions(emit_ctx *e, const char **syms)
{
    cg *g = e->g;
    cwriter *w = e->w;
    emit_perceptual_fns(e);
    if (!g->has_disc) {
        emit_no_disc(e);
        return;
    }
    const ir_model *m = g->m;
    const ir_node *L = cg_node(g, g->adapt_node);
    long long img = (long long)img_numel(g), nl = (long long)logits_numel(g), nL = (long long)adapt_numel(g);
    const char *dl = ir_get_string(&m->loss, "disc_loss", "hinge");

    emit_forward_graph(e, IR_DISCRIMINATOR, syms, "run_disc");
    emit_disc_backward(e, syms, "run_disc_backward_input", 0);
    emit_disc_backward(e, syms, "run_disc_backward_params", 1);

    cw_line(w, "#define DIN(m) ((m)->act + (size_t)%lld * (size_t)(m)->max_b)   /* discriminator input %s */",
            (long long)g->vals[g->disc_in_val].offset, e_shape(e, g->disc_in_t));
    cw_blank(w);

    /* the weight-gradient of the layer L = adaptive_weight_layer */
    cw_line(w, "/* gl (%s) = d/dL of the loss whose gradient at x_hat is dxh: the weight gradient of", m->params[g->adapt_param].name);
    cw_line(w, " * %s (the conv2d producing x_hat) alone. */", L->path ? L->path : "conv2d");
    cw_open(w, "static void adaptive_layer_grad(vq_model *m, float *gl, const float *dxh)");
    cw_line(w, "const int B = m->B;");
    locals(w);
    cw_line(w, "memset(gl, 0, sizeof(float) * %lld);", nL);
    cw_line(w, "vq_conv2d_shape s = %s;", syms[g->adapt_node]);
    cw_line(w, "s.B = B;");
    cw_line(w, "vq_conv2d_backward_weight(gl, NULL, dxh, %s, &s, S);", e_act(e, L->in[0]));
    cw_close(w, "");
    cw_blank(w);

    cw_line(w, "static double norm2(const float *v, size_t n)");
    cw_line(w, "{");
    cw_line(w, "    double s = 0.0;");
    cw_line(w, "    for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];");
    cw_line(w, "    return sqrt(s);");
    cw_line(w, "}");
    cw_blank(w);
    cw_line(w, "static double mean_of(const float *v, size_t n)");
    cw_line(w, "{");
    cw_line(w, "    double s = 0.0;");
    cw_line(w, "    for (size_t i = 0; i < n; i++) s += v[i];");
    cw_line(w, "    return n ? s / (double)n : 0.0;");
    cw_line(w, "}");
    cw_blank(w);

    /* generator's adversarial term */
    cw_line(w, "/* The generator's adversarial term (taming's optimizer_idx 0), after a TRAIN forward and");
    cw_line(w, " * before backward: g_loss = -mean D(x_hat) with D in training mode; d_weight from the two");
    cw_line(w, " * gradients at %s; total += d_weight * disc_factor * g_loss, and backward adds", m->params[g->adapt_param].name);
    cw_line(w, " * d_weight * disc_factor * d g_loss / d x_hat. The discriminator's weights get no gradient. */");
    cw_open(w, "static int model_adversarial(vq_model *m, float disc_factor)");
    cw_line(w, "if (!m->trained) return vq_fail(VQ_ERR_ARG, \"%s: adversarial() needs a TRAIN forward first\");", m->name);
    cw_line(w, "const int B = m->B;");
    locals(w);
    cw_line(w, "const size_t n = (size_t)B * %lld, nl = (size_t)B * %lld;", img, nl);
    cw_line(w, "/* d nll / d x_hat, and its gradient at L */");
    cw_line(w, "memset(m->gan_dnll, 0, sizeof(float) * n);");
    cw_line(w, "vq_%s_loss_backward(m->gan_dnll, RECON(m), XIN(m), n, (float)REC_WEIGHT);",
            ir_get_string(&m->loss, "reconstruction", "l1"));
    if (perceptual(g)) {
        cw_open(w, "if (m->lpips)");
        cw_line(w, "int prc = perceptual_grad(m);");
        cw_line(w, "if (prc) return prc;");
        cw_line(w, "for (size_t i = 0; i < n; i++) m->gan_dnll[i] += m->p_dx[i];");
        cw_close(w, "");
    }
    cw_line(w, "adaptive_layer_grad(m, m->gan_gl, m->gan_dnll);");
    cw_line(w, "/* g_loss = -mean D(x_hat) and d g_loss / d x_hat through D (training mode, as taming) */");
    cw_line(w, "memcpy(DIN(m), RECON(m), sizeof(float) * n);");
    cw_line(w, "int rc = run_disc(m, B, VQ_MODE_TRAIN, NULL);");
    cw_line(w, "if (rc) return rc;");
    cw_line(w, "const float *logits = %s;", e_act(e, g->disc_out_t));
    cw_line(w, "float g_loss = 0.0f;");
    cw_line(w, "vq_g_loss_forward(&g_loss, logits, nl);");
    cw_line(w, "const float fake_mean = (float)mean_of(logits, nl);  /* backward reuses the logits' memory */");
    cw_line(w, "memset(%s, 0, sizeof(float) * nl);", e_grad(e, g->disc_out_t));
    cw_line(w, "vq_g_loss_backward(%s, nl, 1.0f);", e_grad(e, g->disc_out_t));
    cw_line(w, "run_disc_backward_input(m);");
    cw_line(w, "memcpy(m->gan_dg, %s, sizeof(float) * n);", e_grad(e, g->disc_in_t));
    cw_line(w, "adaptive_layer_grad(m, m->gan_gl + %lld, m->gan_dg);", nL);
    cw_line(w, "/* d_weight = clamp(|grad nll| / (|grad g| + 1e-4), 0, 1e4) * DISC_WEIGHT, detached */");
    cw_line(w, "double dw = norm2(m->gan_gl, %lld) / (norm2(m->gan_gl + %lld, %lld) + 1e-4);", nL, nL, nL);
    cw_line(w, "if (!(dw >= 0.0)) dw = 0.0;");
    cw_line(w, "if (dw > 1e4) dw = 1e4;");
    cw_line(w, "dw *= DISC_WEIGHT;");
    cw_line(w, "m->gan_scale = (float)(dw * disc_factor);");
    cw_line(w, "m->loss[LOSS_G] = g_loss;");
    cw_line(w, "m->loss[LOSS_DW] = (float)dw;");
    cw_line(w, "m->loss[LOSS_DF] = disc_factor;");
    cw_line(w, "m->loss[LOSS_LFAKE] = fake_mean;");
    cw_line(w, "m->loss[0] += m->gan_scale * g_loss;");
    cw_line(w, "return 0;");
    cw_close(w, "");
    cw_blank(w);

    /* discriminator step */
    cw_line(w, "/* The discriminator's step (taming's optimizer_idx 1) on the last forward's x and x_hat");
    cw_line(w, " * (detached; vqc reuses the generator step's x_hat, taming recomputes it after the");
    cw_line(w, " * generator's optimizer step): d_loss = disc_factor * %s loss of D(x), D(x_hat), each pass in",
            dl);
    cw_line(w, " * training mode; grads of the discriminator's parameters += d d_loss / d params. */");
    cw_open(w, "static int model_disc_step(vq_model *m, float disc_factor)");
    cw_line(w, "if (!m->have_xhat) return vq_fail(VQ_ERR_ARG, \"%s: disc_step() needs a forward first\");", m->name);
    cw_line(w, "const int B = m->B;");
    locals(w);
    cw_line(w, "const size_t n = (size_t)B * %lld, nl = (size_t)B * %lld;", img, nl);
    cw_line(w, "float *logits = %s, *dlogits = %s;", e_act(e, g->disc_out_t), e_grad(e, g->disc_out_t));
    cw_line(w, "/* real: D(x) */");
    cw_line(w, "memcpy(DIN(m), XIN(m), sizeof(float) * n);");
    cw_line(w, "int rc = run_disc(m, B, VQ_MODE_TRAIN, NULL);");
    cw_line(w, "if (rc) return rc;");
    cw_line(w, "memcpy(m->logits_real, logits, sizeof(float) * nl);");
    cw_line(w, "memset(dlogits, 0, sizeof(float) * nl);");
    cw_line(w, "vq_%s_d_loss_backward(dlogits, NULL, m->logits_real, nl, NULL, nl, disc_factor);", dl);
    cw_line(w, "run_disc_backward_params(m);");
    cw_line(w, "/* fake: D(sg(x_hat)) */");
    cw_line(w, "memcpy(DIN(m), RECON(m), sizeof(float) * n);");
    cw_line(w, "rc = run_disc(m, B, VQ_MODE_TRAIN, NULL);");
    cw_line(w, "if (rc) return rc;");
    cw_line(w, "float d = 0.0f;  /* (before backward, which reuses the logits' memory) */");
    cw_line(w, "vq_%s_d_loss_forward(&d, m->logits_real, nl, logits, nl);", dl);
    cw_line(w, "m->loss[LOSS_D] = disc_factor * d;");
    cw_line(w, "m->loss[LOSS_DF] = disc_factor;");
    cw_line(w, "m->loss[LOSS_LREAL] = (float)mean_of(m->logits_real, nl);");
    cw_line(w, "m->loss[LOSS_LFAKE] = (float)mean_of(logits, nl);");
    cw_line(w, "memset(dlogits, 0, sizeof(float) * nl);");
    cw_line(w, "vq_%s_d_loss_backward(NULL, dlogits, m->logits_real, nl, logits, nl, disc_factor);", dl);
    cw_line(w, "run_disc_backward_params(m);");
    cw_line(w, "return 0;");
    cw_close(w, "");
    cw_blank(w);

    /* any images' logits */
    cw_line(w, "/* logits (B, %lld) of images x (B, C, H, W); EVAL uses BatchNorm's running statistics. */", nl);
    cw_open(w, "static int model_discriminate(vq_model *m, const float **logits, const float *x, int B, vq_mode mode)");
    cw_line(w, "if (B < 1 || B > m->max_b) return vq_fail(VQ_ERR_ARG, \"%s: batch %%d outside 1..%%d\", B, m->max_b);",
            m->name);
    locals(w);
    cw_line(w, "memcpy(DIN(m), x, sizeof(float) * (size_t)B * %lld);", img);
    cw_line(w, "int rc = run_disc(m, B, mode, NULL);");
    cw_line(w, "if (rc) return rc;");
    cw_line(w, "*logits = %s;", e_act(e, g->disc_out_t));
    cw_line(w, "return 0;");
    cw_close(w, "");
    cw_blank(w);
}

void emit_gan_desc(emit_ctx *e)
{
    const cg *g = e->g;
    const ir_model *m = g->m;
    cwriter *w = e->w;
    int disc_opt = -1;
    if (g->has_disc)
        for (int i = 0; i < m->n_nodes && disc_opt < 0; i++) {
            const ir_node *n = cg_node(g, i);
            if (n->graph == IR_DISCRIMINATOR && n->n_param)
                for (int k = 0; k < m->n_optimizers && disc_opt < 0; k++)
                    if (cg_param_in_optimizer(m, &m->optimizers[k], n->param[0])) disc_opt = k;
        }
    cw_line(w, ".has_disc = %d,", g->has_disc);
    cw_line(w, ".disc_optimizer = %d,", disc_opt);
    cw_line(w, ".disc_logits_per_image = %lld,", g->has_disc ? (long long)logits_numel(g) : 0LL);
    cw_line(w, ".adversarial = model_adversarial,");
    cw_line(w, ".disc_step = model_disc_step,");
    cw_line(w, ".discriminate = model_discriminate,");
    cw_line(w, ".set_lpips = model_set_lpips,");
}
