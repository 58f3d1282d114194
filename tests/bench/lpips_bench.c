/* lpips_bench.c: time of LPIPS forward and backward (runtime/lpips.c) at one
 * image size, on random VGG16 weights written to a temporary file.
 *
 *   build/bench/lpips_bench [H=256] [B=1] [reps=3]     (make lpips-bench)
 *
 * Prints the activation memory and the best of `reps` forward and backward
 * times. Threads: OMP_NUM_THREADS (vq_threads_set); OMP_WAIT_POLICY=passive is
 * set by re-executing when unset. Not part of `make test`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lpips.h"
#include "safetensors.h"
#include "threads.h"
#include "timing.h"
#include "vq_common.h"

static const int conv_index[13] = {0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28};
static const int conv_slice[13] = {1, 1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5};
static const int conv_cin[13] = {3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512};
static const int conv_cout[13] = {64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512};
static const int lin_ch[5] = {64, 128, 256, 512, 512};

static int write_weights(const char *path)
{
    static char names[33][96];
    static int64_t shapes[33][4];
    vq_st_ref refs[33];
    float *data[33] = {0};
    vq_rng rng; vq_rng_seed(&rng, 1);
    int n = 0;
    for (int j = 0; j < 13; j++)
        for (int isb = 0; isb < 2; isb++, n++) {
            snprintf(names[n], 96, "loss.perceptual_loss.net.slice%d.%d.%s", conv_slice[j], conv_index[j],
                     isb ? "bias" : "weight");
            int64_t s[4] = {conv_cout[j], conv_cin[j], 3, 3};
            memcpy(shapes[n], s, sizeof s);
            refs[n] = (vq_st_ref){names[n], VQ_DT_F32, isb ? 1 : 4, shapes[n], NULL};
        }
    for (int L = 0; L < 5; L++, n++) {
        snprintf(names[n], 96, "loss.perceptual_loss.lin%d.model.1.weight", L);
        int64_t s[4] = {1, lin_ch[L], 1, 1};
        memcpy(shapes[n], s, sizeof s);
        refs[n] = (vq_st_ref){names[n], VQ_DT_F32, 4, shapes[n], NULL};
    }
    for (int k = 0; k < 2; k++, n++) {
        snprintf(names[n], 96, "loss.perceptual_loss.scaling_layer.%s", k ? "scale" : "shift");
        int64_t s[4] = {1, 3, 1, 1};
        memcpy(shapes[n], s, sizeof s);
        refs[n] = (vq_st_ref){names[n], VQ_DT_F32, 4, shapes[n], NULL};
    }
    int rc = 0;
    for (int i = 0; i < 33 && !rc; i++) {
        size_t cnt = 1;
        for (int d = 0; d < refs[i].ndim; d++) cnt *= (size_t)shapes[i][d];
        if (!(data[i] = vq_alloc(cnt * sizeof(float)))) { rc = 1; break; }
        float a = i < 26 && !(i & 1) ? 0.05f : 0.1f;
        for (size_t e = 0; e < cnt; e++) data[i][e] = i >= 31 ? 0.5f : a * (2.0f * vq_rng_uniform(&rng) - 1.0f);
        refs[i].data = data[i];
    }
    if (!rc) rc = vq_st_write(path, refs, 33, NULL, 0);
    for (int i = 0; i < 33; i++) vq_free(data[i]);
    return rc;
}

int main(int argc, char **argv)
{
    vq_maybe_reexec_with_coretype(argv, vq_threads_recommended_coretype());
    int threads = vq_threads_set(0);
    int H = argc > 1 ? atoi(argv[1]) : 256, B = argc > 2 ? atoi(argv[2]) : 1, reps = argc > 3 ? atoi(argv[3]) : 3;
    char path[] = "/tmp/vqc-lpips-bench-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) { perror("mkstemp"); return 1; }
    close(fd);
    vq_lpips *lp = NULL;
    if (write_weights(path) || vq_lpips_load(&lp, path, B, 3, H, H)) {
        fprintf(stderr, "lpips_bench: %s\n", vq_last_error());
        unlink(path);
        return 1;
    }
    unlink(path);
    size_t n = (size_t)B * 3 * H * H;
    float *x = vq_alloc(n * sizeof(float)), *y = vq_alloc(n * sizeof(float)), *g = vq_alloc(n * sizeof(float));
    float *d = vq_alloc((size_t)B * sizeof(float)), *dd = vq_alloc((size_t)B * sizeof(float));
    if (!x || !y || !g || !d || !dd) { fprintf(stderr, "lpips_bench: %s\n", vq_last_error()); return 1; }
    vq_rng rng; vq_rng_seed(&rng, 2);
    for (size_t i = 0; i < n; i++) { x[i] = 2.0f * vq_rng_uniform(&rng) - 1.0f; y[i] = 0.9f * x[i]; }
    for (int b = 0; b < B; b++) dd[b] = 1.0f;
    double best_f = 1e30, best_b = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = vq_time_now();
        vq_lpips_forward(lp, d, x, y, B);
        double t1 = vq_time_now();
        vq_lpips_backward(lp, g, dd);
        double t2 = vq_time_now();
        if (t1 - t0 < best_f) best_f = t1 - t0;
        if (t2 - t1 < best_b) best_b = t2 - t1;
    }
    printf("lpips %dx%d batch %d, %d threads (%s): activations %.1f MiB; forward %.1f ms, backward %.1f ms, "
           "total %.1f ms (best of %d)\n", H, H, B, threads, vq_threads_openblas_coretype(),
           vq_lpips_activation_bytes(lp) / 1048576.0, best_f * 1e3, best_b * 1e3, (best_f + best_b) * 1e3, reps);
    vq_lpips_free(lp);
    vq_free(x); vq_free(y); vq_free(g); vq_free(d); vq_free(dd);
    return 0;
}
