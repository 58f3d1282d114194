/* checkpoint.c: checkpoint metadata (format, step, rng, model_hash) and the
 * optimizer-state naming scheme, over safetensors. See checkpoint.h. */
#include "checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t vq_hash_fnv1a64(const void *bytes, size_t n)
{
    const unsigned char *p = bytes;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
    return h;
}

static const char *reserved[] = {"format", "step", "rng", "model_hash"};

int vq_ckpt_save(const char *path, const vq_st_ref *tensors, size_t n, const vq_ckpt_info *info,
                 const vq_st_meta *extra, size_t n_extra)
{
    for (size_t i = 0; i < n_extra; i++)
        for (size_t r = 0; r < 4; r++)
            if (extra[i].key && !strcmp(extra[i].key, reserved[r]))
                return vq_fail(VQ_ERR_ARG, "writing %s: metadata key \"%s\" is reserved for the checkpoint itself",
                               path, reserved[r]);
    char step[24], rng[4 * 17], hash[17];
    snprintf(step, sizeof step, "%llu", (unsigned long long)info->step);
    snprintf(rng, sizeof rng, "%016llx,%016llx,%016llx,%016llx", (unsigned long long)info->rng.s[0],
             (unsigned long long)info->rng.s[1], (unsigned long long)info->rng.s[2], (unsigned long long)info->rng.s[3]);
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)info->model_hash);
    vq_st_meta *meta = malloc((4 + n_extra) * sizeof *meta);
    if (!meta) return vq_fail(VQ_ERR_NOMEM, "writing %s: out of memory", path);
    meta[0] = (vq_st_meta){"format", VQ_CKPT_FORMAT};
    meta[1] = (vq_st_meta){"step", step};
    meta[2] = (vq_st_meta){"rng", rng};
    meta[3] = (vq_st_meta){"model_hash", hash};
    if (n_extra) memcpy(meta + 4, extra, n_extra * sizeof *meta);
    int rc = vq_st_write(path, tensors, n, meta, 4 + n_extra);
    free(meta);
    return rc;
}

/* Exactly 16 hex digits (either case). */
static int parse_hex64(const char *s, uint64_t *out)
{
    uint64_t x = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        x = x << 4 | (uint64_t)d;
    }
    *out = x;
    return 0;
}

static int parse_dec64(const char *s, uint64_t *out)
{
    uint64_t x = 0;
    if (!*s || (s[0] == '0' && s[1])) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        uint64_t d = (uint64_t)(*s - '0');
        if (x > (UINT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

int vq_ckpt_info_get(const vq_st_file *f, vq_ckpt_info *info)
{
    const char *fmt = vq_st_meta_get(f, "format");
    if (!fmt) return vq_fail(VQ_ERR_FORMAT, "%s: no \"format\" in __metadata__: not a vqc checkpoint", f->label);
    if (strcmp(fmt, VQ_CKPT_FORMAT))
        return vq_fail(VQ_ERR_FORMAT, "%s: format \"%.100s\", this runtime reads \"%s\"", f->label, fmt, VQ_CKPT_FORMAT);
    const char *step = vq_st_meta_get(f, "step"), *rng = vq_st_meta_get(f, "rng"), *hash = vq_st_meta_get(f, "model_hash");
    if (!step || parse_dec64(step, &info->step))
        return vq_fail(VQ_ERR_FORMAT, "%s: __metadata__ \"step\" %s (expected a decimal integer)", f->label,
                       step ? "is malformed" : "is missing");
    int ok = rng && strlen(rng) == 4 * 17 - 1;
    for (int i = 0; ok && i < 4; i++)
        ok = !parse_hex64(rng + 17 * i, &info->rng.s[i]) && (i == 3 || rng[17 * i + 16] == ',');
    if (!ok)
        return vq_fail(VQ_ERR_FORMAT, "%s: __metadata__ \"rng\" %s (expected 4 comma-separated 16-digit hex words)",
                       f->label, rng ? "is malformed" : "is missing");
    if (!hash || strlen(hash) != 16 || parse_hex64(hash, &info->model_hash))
        return vq_fail(VQ_ERR_FORMAT, "%s: __metadata__ \"model_hash\" %s (expected 16 hex digits)", f->label,
                       hash ? "is malformed" : "is missing");
    return 0;
}

int vq_ckpt_open(vq_st_file *f, const char *path, const uint64_t *expected_hash, vq_ckpt_info *info)
{
    int rc = vq_st_open(f, path);
    if (rc) return rc;
    if ((rc = vq_ckpt_info_get(f, info))) { vq_st_close(f); return rc; }
    if (expected_hash && *expected_hash != info->model_hash) {
        rc = vq_fail(VQ_ERR_MISMATCH, "%s: checkpoint is for model %016llx, this model is %016llx "
                     "(different .vq description)", path, (unsigned long long)info->model_hash,
                     (unsigned long long)*expected_hash);
        vq_st_close(f);
    }
    return rc;
}

int vq_ckpt_optim_name(char *buf, size_t cap, const char *optimizer, const char *state)
{
    if (!*optimizer || !*state) return vq_fail(VQ_ERR_ARG, "optimizer state name: empty optimizer or state name");
    int n = snprintf(buf, cap, "optim.%s.%s", optimizer, state);
    if (n < 0 || (size_t)n >= cap)
        return vq_fail(VQ_ERR_ARG, "optimizer state name optim.%s.%s does not fit in %zu bytes", optimizer, state, cap);
    return 0;
}
