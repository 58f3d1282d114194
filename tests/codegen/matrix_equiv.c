/* matrix_equiv.c: one TRAIN forward + backward of a GENERATED model, written
 * to a file, and a comparison of two such files. tests/scripts/codegen_matrix.sh
 * builds it with tests/codegen/op_matrix.vq generated twice: the attention
 * written out by hand (matmul, softmax, transpose, reshape, scale) and the
 * fused `attention` op (-D fused=true). Both have the same parameter table, so
 * the same seed gives the same weights and image, and the two runs must agree:
 * losses, the reconstruction (B, C, H, W) and every parameter gradient.
 *
 *   matrix_equiv dump FILE          (built with -DMODEL_DESC=<model>_desc)
 *   matrix_equiv compare A B        exit 1 when max |a - b| > 1e-5 * (1 + max |a|) per section
 * File: three sections (losses, recon, grads), each an int64 count then floats.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "model_desc.h"

#ifdef MODEL_DESC
const vq_model_desc *MODEL_DESC(void);

static int write_section(FILE *f, const float *v, int64_t n)
{
    return fwrite(&n, sizeof n, 1, f) != 1 || fwrite(v, sizeof *v, (size_t)n, f) != (size_t)n;
}

static int dump(const char *path)
{
    const vq_model_desc *d = MODEL_DESC();
    const int B = 2;
    vq_model *m;
    vq_rng rng;
    vq_rng_seed(&rng, 11);
    if (d->create(&m, B) || vq_model_init_weights(d, d->params(m), d->n_buffers ? d->buffers(m) : NULL, &rng) ||
        d->reset_state(m, &rng)) {
        fprintf(stderr, "create/init: %s\n", vq_last_error());
        return 2;
    }
    int64_t n_img = (int64_t)B * d->data.channels * d->data.height * d->data.width;
    float *x = malloc((size_t)n_img * sizeof *x);
    for (int64_t i = 0; i < n_img; i++) x[i] = d->data.lo + (d->data.hi - d->data.lo) * vq_rng_uniform(&rng);
    d->zero_grads(m);
    if (d->forward(m, x, B, VQ_MODE_TRAIN, &rng) || d->backward(m)) {
        fprintf(stderr, "forward/backward: %s\n", vq_last_error());
        return 2;
    }
    FILE *f = fopen(path, "wb");
    int bad = !f || write_section(f, d->loss_values(m), d->n_losses) || write_section(f, d->recon(m), n_img) ||
              write_section(f, d->grads(m), (int64_t)d->n_params);
    if (f && fclose(f)) bad = 1;
    if (bad) fprintf(stderr, "%s: cannot write\n", path);
    free(x);
    d->destroy(m);
    return bad ? 2 : 0;
}
#endif

static float *read_section(FILE *f, int64_t *n)
{
    if (fread(n, sizeof *n, 1, f) != 1 || *n < 0 || *n > (1 << 26)) return NULL;
    float *v = malloc((size_t)(*n ? *n : 1) * sizeof *v);
    if (v && fread(v, sizeof *v, (size_t)*n, f) != (size_t)*n) { free(v); return NULL; }
    return v;
}

static int compare(const char *pa, const char *pb)
{
    static const char *const names[3] = {"losses", "recon", "grads"};
    FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
    if (!fa || !fb) { fprintf(stderr, "cannot open %s or %s\n", pa, pb); return 2; }
    int failed = 0;
    for (int s = 0; s < 3; s++) {
        int64_t na, nb;
        float *a = read_section(fa, &na), *b = read_section(fb, &nb);
        if (!a || !b || na != nb) { fprintf(stderr, "%s: truncated or different sizes\n", names[s]); return 2; }
        double amax = 0, diff = 0;
        for (int64_t i = 0; i < na; i++) {
            amax = fmax(amax, fabs(a[i]));
            diff = fmax(diff, fabs((double)a[i] - b[i]));
        }
        int ok = diff <= 1e-5 * (1.0 + amax);
        printf("%-7s %8lld values  max|a| %.3g  max|a-b| %.3g  %s\n", names[s], (long long)na, amax, diff,
               ok ? "ok" : "DIFFERENT");
        failed |= !ok || amax == 0.0;   /* all zeros would compare equal and prove nothing */
        free(a);
        free(b);
    }
    fclose(fa);
    fclose(fb);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "compare") == 0) return compare(argv[2], argv[3]);
#ifdef MODEL_DESC
    if (argc == 3 && strcmp(argv[1], "dump") == 0) return dump(argv[2]);
#endif
    fprintf(stderr, "usage: %s dump FILE | compare A B\n", argv[0]);
    return 2;
}
