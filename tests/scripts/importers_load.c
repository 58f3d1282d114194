/* importers_load.c: opens an imported checkpoint with the runtime (vq_ckpt_open: format, step,
 * rng, model_hash must parse; every tensor through vq_st_get) and saves it again with
 * vq_ckpt_save, so tests/scripts/importers.sh can compare the runtime's view of the file with
 * the PyTorch tensors it came from. Not part of the library; built by importers.sh.
 *
 *   importers_load IN.safetensors OUT.safetensors [SEED]
 *   stdout: "step S rng W0,W1,W2,W3 model_hash H tensors N", then with SEED "seeded W0,W1,W2,W3" (vq_rng_seed)
 *   exit 1 with the runtime's message */
#include <stdio.h>
#include <stdlib.h>

#include "checkpoint.h"

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) { fprintf(stderr, "usage: importers_load IN OUT [SEED]\n"); return 2; }
    vq_st_file f;
    vq_ckpt_info info;
    if (vq_ckpt_open(&f, argv[1], NULL, &info)) { fprintf(stderr, "%s\n", vq_last_error()); return 1; }
    vq_st_ref *refs = calloc(f.n_tensors ? f.n_tensors : 1, sizeof *refs);
    int rc = refs ? 0 : 1;
    for (size_t i = 0; !rc && i < f.n_tensors; i++) {
        const vq_st_tensor *t = &f.tensors[i];
        const int64_t *shape;
        int ndim;
        void *data = (void *)vq_st_get(&f, t->name, &shape, &ndim);
        if (!data) { fprintf(stderr, "%s\n", vq_last_error()); rc = 1; break; }
        vq_dtype dt = t->dtype == VQ_DT_F16 || t->dtype == VQ_DT_BF16 ? VQ_DT_F32 : t->dtype;
        refs[i] = (vq_st_ref){t->name, dt, ndim, shape, data};
    }
    if (!rc && vq_ckpt_save(argv[2], refs, f.n_tensors, &info, NULL, 0)) {
        fprintf(stderr, "%s\n", vq_last_error());
        rc = 1;
    }
    if (!rc)
        printf("step %llu rng %016llx,%016llx,%016llx,%016llx model_hash %016llx tensors %zu\n",
               (unsigned long long)info.step, (unsigned long long)info.rng.s[0], (unsigned long long)info.rng.s[1],
               (unsigned long long)info.rng.s[2], (unsigned long long)info.rng.s[3],
               (unsigned long long)info.model_hash, f.n_tensors);
    if (!rc && argc == 4) {
        vq_rng r;
        vq_rng_seed(&r, strtoull(argv[3], NULL, 10));
        printf("seeded %016llx,%016llx,%016llx,%016llx\n", (unsigned long long)r.s[0], (unsigned long long)r.s[1],
               (unsigned long long)r.s[2], (unsigned long long)r.s[3]);
    }
    free(refs);
    vq_st_close(&f);
    return rc;
}
