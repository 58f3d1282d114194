/* parity_forward.c: after one TRAIN forward on the fixture input, compares the
 * reconstruction, every loss the model names, and the code indices of every codebook.
 *
 * Indices must be identical except at near ties. The rule (per position p, z the reference
 * quantizer input (D), r the reference's code, c ours, e_k the codes, all in double):
 *   allowed iff  Delta = |z - e_c|^2 - |z - e_r|^2  <=  tau_round + tau_z
 *   tau_round = 4 gamma_{D+2} (|z| + max(|e_c|, |e_r|))^2, gamma_n = n u / (1 - n u), u = 2^-24:
 *     float32 evaluation of |z|^2 - 2 z.e + |e|^2 (a sum of D + 2 terms whose absolute values
 *     add up to at most (|z| + |e|)^2) is off by at most gamma_{D+2} times that (Higham,
 *     Accuracy and Stability of Numerical Algorithms, 3.1); each side may misorder the two
 *     codes by twice that, hence 4.
 *   tau_z = 2 sqrt(D) * 1e-4 * max|z| * |e_c - e_r|: our z may differ from the reference's by
 *     the forward tolerance (1e-4 of its largest element per entry), which moves Delta by at
 *     most 2 |dz| |e_c - e_r|.
 * The fixture's dist_gap (second-smallest minus smallest distance) is printed for context:
 * positions with dist_gap below that bound are where a flip is legitimate. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parity.h"

int pt_check_forward(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx, int gan)
{
    size_t n;
    float *own = NULL, *own2 = NULL;
    const float *xrec = pt_get_f32(&fx->forward, "xrec", &n, &own);
    size_t want = (size_t)fx->B * (size_t)d->data.channels * (size_t)d->data.height * (size_t)d->data.width;
    if (!xrec || n != want) {
        pt_failf(r, "fixture xrec: %s", xrec ? "wrong size" : vq_last_error());
        free(own);
        return 1;
    }
    pt_compare(r, PT_FWD, "xrec (reconstruction)", d->recon(m), xrec, n, PT_TOL_FORWARD);
    free(own);

    const float *ours = d->loss_values(m);
    for (int i = 0; i < d->n_losses; i++) {
        const char *ref = pt_ref_loss(d, &fx->losses, d->loss_names[i]);
        const char *why = pt_loss_pending(d->loss_names[i], gan, fx->has_lpips);
        if (why) { pt_pending(r, d->loss_names[i], why); continue; }
        if (gan && (!strcmp(d->loss_names[i], "d_loss") || !strcmp(d->loss_names[i], "logits_real")))
            continue;   /* filled by disc_step: pt_check_disc */
        if (gan && !strcmp(d->loss_names[i], "logits_fake")) {
            pt_compare_mean(r, "loss logits_fake = mean disc.logits_fake_g (generator)", ours[i], &fx->forward,
                            "disc.logits_fake_g");
            continue;
        }
        if (!ref) { pt_failf(r, "loss %s: no reference value known for it (parity_names.c)", d->loss_names[i]); continue; }
        const float *v = pt_get_f32(&fx->losses, ref, &n, &own2);
        char label[160];
        snprintf(label, sizeof label, "loss %s = ref %s", d->loss_names[i], ref);
        if (v && n == 1) pt_compare(r, PT_FWD, label, &ours[i], v, 1, PT_TOL_FORWARD);
        else pt_failf(r, "%s: fixture value missing or not a scalar", label);
        free(own2);
        own2 = NULL;
    }
    return 0;
}

/* the code k of a (K, D) or (D, K) embedding, as doubles */
static void code(double *e, const float *emb, int dk, int K, int D, int k)
{
    for (int j = 0; j < D; j++) e[j] = dk ? emb[(size_t)j * K + k] : emb[(size_t)k * D + j];
}

static int check_codebook(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx, int c)
{
    const vq_codebook_desc *cb = &d->codebooks[c];
    const char *ik = pt_ref_indices(cb->name), *zk = pt_ref_z(cb->name);
    if (!ik || !zk) { pt_failf(r, "codebook %s: no reference stage names known (parity_names.c)", cb->name); return 1; }
    const int K = cb->K, D = cb->D, HW = cb->grid_h * cb->grid_w;
    const size_t M = (size_t)fx->B * (size_t)HW;
    float *oi = NULL, *oz = NULL, *og = NULL, *oe = NULL;
    size_t ni = 0, nz = 0, ng = 0, ne = 0;
    char gk[128];
    snprintf(gk, sizeof gk, "%s.dist_gap", cb->name);
    const float *ref = pt_get_f32(&fx->forward, ik, &ni, &oi);
    const float *z = pt_get_f32(&fx->forward, zk, &nz, &oz);
    const float *gap = pt_get_f32(&fx->forward, gk, &ng, &og);
    const float *emb = pt_get_f32(&fx->weights, d->tensors[cb->embed_tensor].name, &ne, &oe);
    int bad = 0;
    if (!ref || !z || !gap || !emb || ni != M || nz != M * (size_t)D || ng != M || ne != (size_t)K * D) {
        pt_failf(r, "codebook %s: fixture %s/%s/%s missing or of the wrong size", cb->name, ik, zk, gk);
        bad = 1;
        goto out;
    }
    const int32_t *idx = d->indices(m, c);
    double zmax = 0.0, gap_min = INFINITY;
    for (size_t i = 0; i < nz; i++) zmax = fmax(zmax, fabs(z[i]));
    const double u = ldexp(1.0, -24), gamma = (D + 2) * u / (1 - (D + 2) * u);
    double *zp = malloc(sizeof(double) * 3 * (size_t)D), *ec = zp + D, *er = zp + 2 * D;
    if (!zp) { bad = 1; pt_failf(r, "out of memory"); goto out; }
    int ties = 0, wrong = 0;
    for (size_t p = 0; p < M; p++) {
        gap_min = fmin(gap_min, gap[p]);
        int rk = (int)ref[p], ck = idx[p];
        if (rk == ck) continue;
        if (ck < 0 || ck >= K) { wrong++; printf("       %s position %zu: code %d out of range\n", cb->name, p, ck); continue; }
        size_t b = p / (size_t)HW, s = p % (size_t)HW;
        for (int j = 0; j < D; j++) zp[j] = z[(b * (size_t)D + (size_t)j) * (size_t)HW + s];
        code(ec, emb, cb->embed_dk, K, D, ck);
        code(er, emb, cb->embed_dk, K, D, rk);
        double dc = 0, dr = 0, zn = 0, ecn = 0, ern = 0, dce = 0;
        for (int j = 0; j < D; j++) {
            dc += (zp[j] - ec[j]) * (zp[j] - ec[j]);
            dr += (zp[j] - er[j]) * (zp[j] - er[j]);
            zn += zp[j] * zp[j]; ecn += ec[j] * ec[j]; ern += er[j] * er[j];
            dce += (ec[j] - er[j]) * (ec[j] - er[j]);
        }
        double en = sqrt(fmax(ecn, ern)), t = sqrt(zn) + en;
        double tau = 4 * gamma * t * t + 2 * sqrt((double)D) * PT_TOL_FORWARD * zmax * sqrt(dce);
        int ok = dc - dr <= tau;
        ties += ok;
        wrong += !ok;
        printf("       %s position %zu: ours %d, reference %d, distance excess %.3g vs bound %.3g, dist_gap %.3g: %s\n",
               cb->name, p, ck, rk, dc - dr, tau, gap[p], ok ? "near tie, allowed" : "MISMATCH");
    }
    free(zp);
    printf("%-6s %-56s %9zu  identical %zu, near ties %d, mismatches %d (min dist_gap %.3g)  %s\n", "index",
           ik, M, M - (size_t)ties - (size_t)wrong, ties, wrong, gap_min, wrong ? "FAIL" : "ok");
    r->rows++;
    if (wrong) { r->fails++; bad = 1; }
    if (ties) printf("       note: %d near-tie flips: downstream values may differ by the two codes' distance\n", ties);
out:
    free(oi); free(oz); free(og); free(oe);
    return bad;
}

int pt_check_indices(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx)
{
    int bad = 0;
    for (int c = 0; c < d->n_codebooks; c++) bad |= check_codebook(r, d, m, fx, c);
    return bad;
}
