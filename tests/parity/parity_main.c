/* parity_main.c: the parity test of one generated model against PyTorch fixtures.
 *
 *   cc ... -DPARITY_DESC=vqgan_fmnist_desc tests/parity/parity_*.c GEN/vqgan_fmnist.c libvqrt.a
 *   ./parity FIXDIR [FIXTURE_MODEL] [--threads T]
 *
 * FIXDIR holds FIXTURE_MODEL.*.safetensors (default: the model's own name) from
 * tests/reference/make_fixtures.py. Order: load the weights (strict names and shapes) ->
 * reset_state (it may overwrite model state: EMA embed_avg = embed, codebook copies) ->
 * load the weights again, so the fixture's values are what the first forward sees ->
 * forward(TRAIN) -> [GAN: adversarial(disc_factor)] -> compare reconstruction, losses,
 * indices -> backward -> compare every autoencoder gradient -> [GAN: disc_step(disc_factor),
 * compare d_loss, logit means, every discriminator gradient] -> after_step without an
 * optimizer step -> compare buffers with `after` (the reference updates its EMA codebooks
 * inside that forward; GAN: BatchNorm after three discriminator passes) -> from the weights
 * again, N steps of vq_train_step against `steps` (informational when the fixture has
 * teacher-forced states: then N teacher-forced steps, parity_teacher.c). LPIPS weights
 * (MODEL.lpips) are loaded with set_lpips when the fixture has them. The GAN half runs when the model has a
 * discriminator and the fixture's disc_factor is not 0 (parity_gan.c). Exit 0 only if every
 * row passed.
 */
#include <stdlib.h>
#include <string.h>

#include "parity.h"
#include "threads.h"

#ifndef PARITY_DESC
#error "compile with -DPARITY_DESC=<model>_desc"
#endif
const vq_model_desc *PARITY_DESC(void);

/* params and buffers from the fixture, model state reset, then the fixture again */
static int load_fresh(const vq_model_desc *d, vq_model *m, pt_fixture *fx, vq_rng *rng)
{
    int rc = pt_load_weights(d, m, &fx->weights);
    if (!rc && d->reset_state) rc = d->reset_state(m, rng);
    if (!rc) rc = pt_load_weights(d, m, &fx->weights);
    return rc;
}

/* A TRAIN forward must not change the weights; with k-means init pending it would re-seed
 * the codebook (generate the model with -D 'codebook_init="uniform"'). */
static void check_codebooks_kept(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx)
{
    for (int c = 0; c < d->n_codebooks; c++) {
        const vq_tensor_desc *t = &d->tensors[d->codebooks[c].embed_tensor];
        const float *slab = t->role == VQ_ROLE_TRAINABLE ? d->params(m) : d->buffers(m);
        size_t n;
        float *own;
        const float *w = pt_get_f32(&fx->weights, t->name, &n, &own);
        if (w && n == t->numel && memcmp(w, slab + t->offset, sizeof(float) * n))
            pt_failf(r, "%s changed during the forward (k-means init or restart?): generate with "
                        "-D 'codebook_init=\"uniform\"' -D restart_after=0", t->name);
        free(own);
    }
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *fxname = NULL;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!dir) dir = argv[i];
        else if (!fxname) fxname = argv[i];
        else { fprintf(stderr, "usage: %s FIXDIR [FIXTURE_MODEL] [--threads T]\n", argv[0]); return 2; }
    }
    if (!dir) { fprintf(stderr, "usage: %s FIXDIR [FIXTURE_MODEL] [--threads T]\n", argv[0]); return 2; }
    vq_threads_set(threads);
    const vq_model_desc *d = PARITY_DESC();
    if (!fxname) fxname = d->name;

    pt_fixture fx;
    vq_model *m = NULL;
    pt_report r = {0};
    vq_rng rng;
    vq_rng_seed(&rng, 0);
    int rc = pt_fixture_open(&fx, dir, fxname);
    if (!rc) rc = d->create(&m, fx.B);
    if (!rc) rc = load_fresh(d, m, &fx, &rng);
    if (!rc && fx.has_lpips) {   /* perceptual_weight > 0: the fixture's LPIPS weights */
        char lp[4096];
        snprintf(lp, sizeof lp, "%s/%s.lpips.safetensors", dir, fxname);
        rc = d->set_lpips ? d->set_lpips(m, lp) : vq_fail(VQ_ERR_UNSUPPORTED, "model %s cannot load LPIPS", d->name);
    }
    if (rc) {
        fprintf(stderr, "parity %s: %s\n", d->name, vq_last_error());
        pt_fixture_close(&fx);
        d->destroy(m);
        return 1;
    }
    printf("parity %s vs %s/%s (batch %d; %s)\n", d->name, dir, fxname, fx.B,
           vq_st_meta_get(&fx.weights, "command") ? vq_st_meta_get(&fx.weights, "command") : "?");
    printf("%-6s %-56s %9s  %10s  %10s  %8s\n", "kind", "tensor", "numel", "max abs", "max rel", "tol");

    size_t nx;
    float *ox;
    const float *x = pt_get_f32(&fx.inputs, "x", &nx, &ox);
    const double df = pt_fixture_disc_factor(&fx);
    const int gan = d->has_disc && df != 0.0;
    if (df != 0.0 && !d->has_disc)
        pt_failf(&r, "the fixture has the adversarial term on (disc_factor %g) and model %s has no discriminator",
                 df, d->name);
    if (!gan) {
        const char *fwd[] = {"disc.logits_fake_g", "disc.logits_real", "disc.logits_fake"};
        for (int i = 0; i < 3; i++)
            if (vq_st_find(&fx.forward, fwd[i])) pt_pending(&r, fwd[i], "discriminator logits (GAN off: disc_factor 0)");
        vq_clear_error();
    }
    d->zero_grads(m);
    rc = d->forward(m, x, fx.B, VQ_MODE_TRAIN, &rng);
    if (!rc && gan) rc = d->adversarial(m, (float)df);
    if (!rc) {
        check_codebooks_kept(&r, d, m, &fx);
        pt_check_forward(&r, d, m, &fx, gan);
        pt_check_indices(&r, d, m, &fx);
        rc = d->backward(m);
    }
    if (!rc) pt_check_grads(&r, d, m, &fx, 0, gan);
    if (!rc && gan) {
        rc = d->disc_step(m, (float)df);
        if (!rc) pt_check_disc(&r, d, m, &fx);
        if (!rc) pt_check_actnorm(&r, d, m, &fx);
    }
    if (!rc) rc = d->after_step(m, 0, &rng);
    if (!rc) pt_check_buffers(&r, d, m, &fx.after, "", PT_TOL_FORWARD, gan);
    free(ox);
    if (rc) pt_failf(&r, "%s", vq_last_error());

    if (!rc && fx.has_steps) {
        rc = load_fresh(d, m, &fx, &rng);
        /* with teacher-forced states the free-running GAN steps are informational (chaotic) */
        if (!rc) {
            pt_check_steps(&r, d, m, &fx, fx.n_states > 0);
            if (!fx.n_states) pt_check_buffers(&r, d, m, &fx.steps, "buffer.", PT_TOL_STEPS, gan);
        } else {
            pt_failf(&r, "%s", vq_last_error());
        }
        if (!rc && fx.n_states) {
            rc = load_fresh(d, m, &fx, &rng);
            if (!rc) pt_check_teacher(&r, d, m, &fx);
            else pt_failf(&r, "%s", vq_last_error());
        }
    } else if (!fx.has_steps) {
        pt_pending(&r, "steps", "no steps fixture (make_fixtures.py --steps N)");
    }

    printf("parity %s: %d rows, %d failed, %d pending; worst rel: forward %.3e, gradient %.3e, "
           "steps %.3e, buffers %.3e\n", d->name, r.rows, r.fails, r.pending, r.worst_fwd, r.worst_grad,
           r.worst_steps, r.worst_buf);
    pt_fixture_close(&fx);
    d->destroy(m);
    return r.fails ? 1 : 0;
}
