/* dataset_loader.c: deterministic shuffling, batching and the prefetch thread.
 * See dataset.h for the stream model (global position p = epoch * N + offset).
 *
 * Threads: with prefetch > 0 one worker fills a ring of prefetch + 1 batch
 * slots in stream order; the consumer holds at most one slot (the batch it was
 * last given) and releases it on its next call. The producer state (position,
 * permutation, bad-item marks) is touched only by whoever produces: the worker,
 * or the caller itself when prefetch is 0. A worker error is stored in the slot
 * it was filling, so it reaches the consumer after the good batches before it.
 *
 * Dimension legend: N items, B batch, C channels, H, W height and width. */
#include "dataset.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    vq_batch b;
    int64_t end_pos; /* stream position after this batch */
    int64_t new_bad; /* items first found bad while filling it */
    char bad_msg[2048]; /* those items' error messages, one a line (as many as fit) */
    int status;      /* 0, or the error that stopped the producer */
    char msg[1024];  /* that error's message (vq_last_error is per thread) */
} slot;

struct vq_loader {
    vq_dataset *ds;
    vq_loader_config cfg;
    int64_t n;         /* N */
    size_t sample;     /* C * H * W floats */
    /* producer state */
    int64_t prod_pos;  /* next stream position to draw */
    int64_t perm_epoch;
    int64_t *perm;     /* (N) order of epoch perm_epoch */
    uint8_t *bad;      /* (N) 1 once an item failed (skip_bad) */
    /* ring */
    slot *slots;
    int nslots;
    int64_t produced, taken, released; /* counters; slot k lives at k % nslots */
    int holding;       /* the consumer holds slot (taken - 1) */
    pthread_t thread;
    int running;
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t filled, freed;
    /* consumer state */
    int64_t pos;       /* vq_loader_tell */
    int64_t bad_total;
    char last_bad[2048]; /* bad_msg of the last batch that had new bad items */
    int err;           /* sticky error once one was delivered */
    char err_msg[1024];
};

/* splitmix64's finalizer: a bijective mix, so distinct inputs stay distinct. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Streams keyed by (seed, epoch) and (seed, epoch, offset); the constants keep
 * the permutation stream apart from the per-sample ones. */
static void rng_for(vq_rng *r, uint64_t seed, int64_t epoch, int64_t offset)
{
    uint64_t k = mix64(seed + 0x9e3779b97f4a7c15ull);
    k = mix64(k ^ ((uint64_t)epoch + 0x632be59bd9b4e019ull));
    k = mix64(k ^ ((uint64_t)offset + 0x8cb92ba72f3d8dd7ull));
    vq_rng_seed(r, k);
}

static void make_perm(vq_loader *ld, int64_t epoch)
{
    for (int64_t i = 0; i < ld->n; i++) ld->perm[i] = i;
    if (ld->cfg.shuffle) {
        /* Fisher-Yates (Knuth, TAOCP vol. 2, Algorithm P). Offset -1 is the
         * permutation's own stream; sample offsets are >= 0. */
        vq_rng r;
        rng_for(&r, ld->cfg.seed, epoch, -1);
        for (int64_t i = ld->n - 1; i > 0; i--) {
            int64_t j = (int64_t)vq_rng_below(&r, (uint64_t)i + 1);
            int64_t t = ld->perm[i];
            ld->perm[i] = ld->perm[j];
            ld->perm[j] = t;
        }
    }
    ld->perm_epoch = epoch;
}

/* Fill s with the next B good samples from prod_pos on. */
static void produce(vq_loader *ld, slot *s)
{
    vq_batch *b = &s->b;
    s->new_bad = 0;
    s->status = 0;
    int64_t misses = 0; /* consecutive bad draws: a whole epoch of them means nothing is readable */
    for (int k = 0; k < b->B;) {
        if (atomic_load(&ld->stop)) {
            s->status = VQ_ERR_INTERRUPTED;
            snprintf(s->msg, sizeof s->msg, "loader stopped");
            return;
        }
        int64_t pos = ld->prod_pos++;
        int64_t epoch = pos / ld->n, off = pos % ld->n;
        if (epoch != ld->perm_epoch) make_perm(ld, epoch);
        int64_t item = ld->perm[off];
        if (ld->bad[item]) {
            if (++misses >= ld->n) goto all_bad;
            continue;
        }
        vq_rng r;
        rng_for(&r, ld->cfg.seed, epoch, off);
        int label;
        int rc = vq_dataset_sample(b->x + (size_t)k * ld->sample, &label, ld->ds, item, &ld->cfg.tf, &r);
        if (rc) {
            if (ld->cfg.skip_bad && rc != VQ_ERR_NOMEM) {
                ld->bad[item] = 1;
                s->new_bad++;
                size_t used = s->new_bad > 1 ? strlen(s->bad_msg) : 0;
                if (used + 2 < sizeof s->bad_msg)
                    snprintf(s->bad_msg + used, sizeof s->bad_msg - used, "%s%s", used ? "\n" : "", vq_last_error());
                if (++misses >= ld->n) goto all_bad;
                continue;
            }
            s->status = rc;
            snprintf(s->msg, sizeof s->msg, "%s", vq_last_error());
            return;
        }
        misses = 0;
        b->label[k] = label;
        b->index[k] = item;
        b->epoch[k] = epoch;
        k++;
    }
    s->end_pos = ld->prod_pos;
    return;
all_bad:
    s->status = VQ_ERR_FORMAT;
    snprintf(s->msg, sizeof s->msg, "dataset: all %lld items failed to load (skip_bad is on); last error: %s",
             (long long)ld->n, vq_last_error());
}

static void *worker(void *arg)
{
    vq_loader *ld = arg;
    for (;;) {
        pthread_mutex_lock(&ld->mu);
        while (!atomic_load(&ld->stop) && ld->produced - ld->released >= ld->nslots)
            pthread_cond_wait(&ld->freed, &ld->mu);
        int64_t k = ld->produced;
        pthread_mutex_unlock(&ld->mu);
        if (atomic_load(&ld->stop)) break;
        /* Slot k is free: the consumer has released it and holds none past it. */
        slot *s = &ld->slots[k % ld->nslots];
        produce(ld, s);
        if (s->status == VQ_ERR_INTERRUPTED && atomic_load(&ld->stop)) break;
        pthread_mutex_lock(&ld->mu);
        ld->produced++;
        pthread_cond_signal(&ld->filled);
        pthread_mutex_unlock(&ld->mu);
        if (s->status) break; /* nothing more after an error */
    }
    return NULL;
}

static void stop_worker(vq_loader *ld)
{
    if (!ld->running) return;
    pthread_mutex_lock(&ld->mu);
    atomic_store(&ld->stop, 1);
    pthread_cond_broadcast(&ld->freed);
    pthread_mutex_unlock(&ld->mu);
    pthread_join(ld->thread, NULL);
    ld->running = 0;
}

/* Reset the ring and the producer to stream position pos; start the worker. */
static int restart(vq_loader *ld, int64_t pos)
{
    stop_worker(ld);
    ld->prod_pos = pos;
    ld->pos = pos;
    ld->produced = ld->taken = ld->released = 0;
    ld->holding = 0;
    ld->err = 0;
    atomic_store(&ld->stop, 0);
    if (ld->cfg.prefetch > 0) {
        int e = pthread_create(&ld->thread, NULL, worker, ld);
        if (e) return vq_fail(VQ_ERR_IO, "loader: cannot start the prefetch thread: %s", strerror(e));
        ld->running = 1;
    }
    return 0;
}

static void free_slots(vq_loader *ld)
{
    if (!ld->slots) return;
    for (int i = 0; i < ld->nslots; i++) {
        vq_free(ld->slots[i].b.x);
        vq_free(ld->slots[i].b.label);
        vq_free(ld->slots[i].b.index);
        vq_free(ld->slots[i].b.epoch);
    }
    free(ld->slots);
}

int vq_loader_open(vq_loader **out, vq_dataset *ds, const vq_loader_config *cfg)
{
    *out = NULL;
    const vq_transform *tf = &cfg->tf;
    if (!ds || cfg->batch <= 0 || cfg->prefetch < 0 || (tf->channels != 1 && tf->channels != 3) || tf->height <= 0 ||
        tf->width <= 0 || !(tf->hi > tf->lo))
        return vq_fail(VQ_ERR_ARG,
                       "loader: invalid configuration (batch %d, prefetch %d, %d channels, %dx%d, range [%g, %g])",
                       cfg->batch, cfg->prefetch, tf->channels, tf->height, tf->width, tf->lo, tf->hi);
    if (vq_dataset_size(ds) == 0) return vq_fail(VQ_ERR_ARG, "loader: the dataset is empty");
    vq_loader *ld = calloc(1, sizeof *ld);
    if (!ld) return vq_fail(VQ_ERR_NOMEM, "out of memory");
    ld->ds = ds;
    ld->cfg = *cfg;
    ld->n = vq_dataset_size(ds);
    ld->sample = (size_t)tf->channels * tf->height * tf->width;
    ld->perm_epoch = -1;
    ld->nslots = cfg->prefetch + 1;
    pthread_mutex_init(&ld->mu, NULL);
    pthread_cond_init(&ld->filled, NULL);
    pthread_cond_init(&ld->freed, NULL);
    int rc = 0;
    ld->perm = vq_alloc(sizeof(int64_t) * (size_t)ld->n);
    ld->bad = vq_alloc((size_t)ld->n);
    ld->slots = calloc((size_t)ld->nslots, sizeof *ld->slots);
    if (!ld->perm || !ld->bad || !ld->slots) rc = VQ_ERR_NOMEM;
    for (int i = 0; !rc && i < ld->nslots; i++) {
        vq_batch *b = &ld->slots[i].b;
        b->B = cfg->batch;
        b->C = tf->channels;
        b->H = tf->height;
        b->W = tf->width;
        b->x = vq_alloc(sizeof(float) * ld->sample * (size_t)cfg->batch);
        b->label = vq_alloc(sizeof(int32_t) * (size_t)cfg->batch);
        b->index = vq_alloc(sizeof(int64_t) * (size_t)cfg->batch);
        b->epoch = vq_alloc(sizeof(int64_t) * (size_t)cfg->batch);
        if (!b->x || !b->label || !b->index || !b->epoch) rc = VQ_ERR_NOMEM;
    }
    if (rc)
        rc = vq_fail_context(VQ_ERR_NOMEM, "loader: %d batches of %d x %zu floats", ld->nslots, cfg->batch,
                             ld->sample);
    if (!rc) rc = restart(ld, 0);
    if (rc) { vq_loader_close(ld); return rc; }
    *out = ld;
    return 0;
}

int vq_loader_next(vq_loader *ld, const vq_batch **batch)
{
    *batch = NULL;
    if (ld->err) return vq_fail(ld->err, "%s", ld->err_msg);
    slot *s;
    if (ld->cfg.prefetch == 0) {
        s = &ld->slots[0];
        produce(ld, s);
    } else {
        pthread_mutex_lock(&ld->mu);
        if (ld->holding) {
            ld->released++;
            ld->holding = 0;
            pthread_cond_signal(&ld->freed);
        }
        while (ld->taken >= ld->produced) pthread_cond_wait(&ld->filled, &ld->mu);
        s = &ld->slots[ld->taken % ld->nslots];
        ld->taken++;
        ld->holding = 1;
        pthread_mutex_unlock(&ld->mu);
    }
    ld->bad_total += s->new_bad;
    if (s->new_bad) memcpy(ld->last_bad, s->bad_msg, sizeof ld->last_bad);
    if (s->status) {
        ld->err = s->status;
        snprintf(ld->err_msg, sizeof ld->err_msg, "%s", s->msg);
        return vq_fail(ld->err, "%s", ld->err_msg);
    }
    ld->pos = s->end_pos;
    *batch = &s->b;
    return 0;
}

int64_t vq_loader_tell(const vq_loader *ld) { return ld->pos; }
int64_t vq_loader_bad_count(const vq_loader *ld) { return ld->bad_total; }
const char *vq_loader_last_bad(const vq_loader *ld) { return ld->last_bad; }

int vq_loader_seek(vq_loader *ld, int64_t pos)
{
    if (pos < 0) return vq_fail(VQ_ERR_ARG, "loader: cannot seek to position %lld", (long long)pos);
    return restart(ld, pos);
}

void vq_loader_close(vq_loader *ld)
{
    if (!ld) return;
    stop_worker(ld);
    pthread_mutex_destroy(&ld->mu);
    pthread_cond_destroy(&ld->filled);
    pthread_cond_destroy(&ld->freed);
    free_slots(ld);
    vq_free(ld->perm);
    vq_free(ld->bad);
    free(ld);
}
