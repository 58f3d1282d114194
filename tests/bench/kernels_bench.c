/* kernels_bench.c: GFLOP/s of conv2d forward / backward-data / backward-weight
 * on the convolution shapes of taming's VQGAN f16 encoder at 256x256
 * (ch = 128, ch_mult = 1,1,2,2,4), batch 1 unless given. Not part of `make test`.
 *
 *     make kernels-bench                       # builds and runs
 *     build/bench/kernels_bench [batch] [reps]
 *
 * Threads: OMP_NUM_THREADS, applied by vq_threads_set as the driver does
 * (OpenBLAS single-threaded, the kernels' own OpenMP tiles; runtime/threads.h).
 * FLOPs counted as 2*B*Co*Ci*kh*kw*Ho*Wo per pass (bias and col moves excluded).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels.h"
#include "threads.h"
#include "vq_common.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

typedef struct { const char *name; vq_conv2d_shape s; } bench_case;

int main(int argc, char **argv)
{
    int B = argc > 1 ? atoi(argv[1]) : 1, reps = argc > 2 ? atoi(argv[2]) : 2;
    int threads = vq_threads_set(0);
    /* {B, Ci, H, W, Co, kh, kw, sh, sw, pt, pb, pl, pr, Ho, Wo, bias} */
    bench_case cases[] = {
        {"conv_in 3->128 @256 k3", {0, 3, 256, 256, 128, 3, 3, 1, 1, 1, 1, 1, 1, 256, 256, 1}},
        {"res 128->128 @256 k3", {0, 128, 256, 256, 128, 3, 3, 1, 1, 1, 1, 1, 1, 256, 256, 1}},
        {"down 128 @256->128 k3 s2 pad(0,1,0,1)", {0, 128, 256, 256, 128, 3, 3, 2, 2, 0, 1, 0, 1, 128, 128, 1}},
        {"res 128->128 @128 k3", {0, 128, 128, 128, 128, 3, 3, 1, 1, 1, 1, 1, 1, 128, 128, 1}},
        {"res 256->256 @64 k3", {0, 256, 64, 64, 256, 3, 3, 1, 1, 1, 1, 1, 1, 64, 64, 1}},
        {"nin 128->256 @64 k1", {0, 128, 64, 64, 256, 1, 1, 1, 1, 0, 0, 0, 0, 64, 64, 1}},
        {"res 256->256 @32 k3", {0, 256, 32, 32, 256, 3, 3, 1, 1, 1, 1, 1, 1, 32, 32, 1}},
        {"res 512->512 @16 k3", {0, 512, 16, 16, 512, 3, 3, 1, 1, 1, 1, 1, 1, 16, 16, 1}},
    };
    printf("batch %d, %d threads, best of %d; GFLOP/s forward / backward-data / backward-weight; scratch MiB\n",
           B, threads, reps);
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        vq_conv2d_shape s = cases[t].s;
        s.B = B;
        if (vq_conv2d_check(&s)) { fprintf(stderr, "%s\n", vq_last_error()); return 1; }
        size_t nx = (size_t)B * s.Ci * s.H * s.W, ny = (size_t)B * s.Co * s.Ho * s.Wo;
        size_t nw = (size_t)s.Co * s.Ci * s.kh * s.kw, ns = vq_conv2d_scratch_floats(&s);
        float *x = vq_alloc(nx * 4), *y = vq_alloc(ny * 4), *w = vq_alloc(nw * 4), *b = vq_alloc(s.Co * 4);
        float *dx = vq_alloc(nx * 4), *dw = vq_alloc(nw * 4), *db = vq_alloc(s.Co * 4), *sc = vq_alloc((ns + 1) * 4);
        if (!x || !y || !w || !b || !dx || !dw || !db || !sc) { fprintf(stderr, "%s\n", vq_last_error()); return 1; }
        vq_rng rng; vq_rng_seed(&rng, 1);
        for (size_t i = 0; i < nx; i++) x[i] = vq_rng_uniform(&rng) - 0.5f;
        for (size_t i = 0; i < nw; i++) w[i] = 0.01f * (vq_rng_uniform(&rng) - 0.5f);
        double flop = 2.0 * B * s.Co * s.Ci * s.kh * s.kw * (double)s.Ho * s.Wo, best[3] = {1e30, 1e30, 1e30};
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            vq_conv2d_forward(y, x, w, b, &s, sc);
            double t1 = now();
            vq_conv2d_backward_data(dx, y, w, &s, sc);
            double t2 = now();
            vq_conv2d_backward_weight(dw, db, y, x, &s, sc);
            double t3 = now();
            if (t1 - t0 < best[0]) best[0] = t1 - t0;
            if (t2 - t1 < best[1]) best[1] = t2 - t1;
            if (t3 - t2 < best[2]) best[2] = t3 - t2;
        }
        printf("%-40s %7.1f %7.1f %7.1f   %5.2f\n", cases[t].name, flop / best[0] * 1e-9, flop / best[1] * 1e-9,
               flop / best[2] * 1e-9, ns * 4.0 / (1 << 20));
        vq_free(x); vq_free(y); vq_free(w); vq_free(b); vq_free(dx); vq_free(dw); vq_free(db); vq_free(sc);
    }
    return 0;
}
