/* vq_common.c: last-error message, aligned allocation, xoshiro256** RNG.
 * See vq_common.h. */
#include "vq_common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_error[1024];

int vq_fail(vq_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return (int)code;
}

int vq_fail_context(vq_status code, const char *fmt, ...)
{
    /* New message = "<prefix>: <old message>", cut to the buffer's size. */
    char old[sizeof last_error];
    memcpy(old, last_error, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : (size_t)n < sizeof last_error ? (size_t)n : sizeof last_error - 1;
    size_t room = sizeof last_error - 1 - used;
    size_t old_len = strnlen(old, sizeof old - 1);
    char *end = last_error + used;
    if (room >= 2) { memcpy(end, ": ", 2); end += 2; room -= 2; }
    if (old_len > room) old_len = room;
    memcpy(end, old, old_len);
    end[old_len] = '\0';
    return (int)code;
}

const char *vq_last_error(void) { return last_error[0] ? last_error : "no error"; }
void vq_clear_error(void) { last_error[0] = '\0'; }

const char *vq_status_name(vq_status code)
{
    switch (code) {
    case VQ_OK: return "ok";
    case VQ_ERR_ARG: return "invalid argument";
    case VQ_ERR_NOMEM: return "out of memory";
    case VQ_ERR_IO: return "I/O error";
    case VQ_ERR_FORMAT: return "malformed file";
    case VQ_ERR_MISMATCH: return "does not match the model";
    case VQ_ERR_NUMERIC: return "non-finite value";
    case VQ_ERR_UNSUPPORTED: return "unsupported";
    case VQ_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

void *vq_alloc_uninit(size_t bytes)
{
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) { vq_fail(VQ_ERR_NOMEM, "allocation of %zu bytes overflows", bytes); return NULL; }
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) { vq_fail(VQ_ERR_NOMEM, "out of memory allocating %zu bytes", bytes); return NULL; }
    return p;
}

void *vq_alloc(size_t bytes)
{
    void *p = vq_alloc_uninit(bytes);
    if (p) memset(p, 0, (bytes + 63) & ~(size_t)63);
    return p;
}

void vq_free(void *p) { free(p); }

/* splitmix64 spreads one seed over the four state words (Vigna's recommendation). */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void vq_rng_seed(vq_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t vq_rng_next(vq_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float vq_rng_uniform(vq_rng *rng) { return (float)(vq_rng_next(rng) >> 40) * 0x1.0p-24f; }
double vq_rng_uniform_double(vq_rng *rng) { return (double)(vq_rng_next(rng) >> 11) * 0x1.0p-53; }

float vq_rng_normal(vq_rng *rng, float mean, float std)
{
    /* 1 - u keeps the log argument in (0, 1]. */
    double u1 = 1.0 - vq_rng_uniform_double(rng), u2 = vq_rng_uniform_double(rng);
    double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
    return mean + std * (float)z;
}

uint64_t vq_rng_below(vq_rng *rng, uint64_t n)
{
    if (n == 0) return 0;
    /* Rejection on the top of the range keeps every residue equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = vq_rng_next(rng); while (x >= limit);
    return x % n;
}

vq_rng vq_rng_split(vq_rng *rng)
{
    vq_rng child;
    vq_rng_seed(&child, vq_rng_next(rng));
    return child;
}
