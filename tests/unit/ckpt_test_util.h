/* ckpt_test_util.h: helpers shared by test_checkpoint.c and
 * test_safetensors_hostile.c: a scratch directory, whole-file I/O, and an
 * assertion that an error message contains the expected words. */
#ifndef CKPT_TEST_UTIL_H
#define CKPT_TEST_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Fails (with the message printed) unless the last error contains `words`. */
#define assert_error_has(words) do {                                               \
        const char *msg_ = vq_last_error();                                        \
        if (!strstr(msg_, (words))) {                                              \
            print_error("expected an error containing \"%s\", got \"%s\"\n", (words), msg_); \
            fail();                                                                \
        }                                                                          \
    } while (0)

static char scratch[256];

/* A fresh directory under /tmp, removed by scratch_remove. */
static inline int scratch_make(void)
{
    snprintf(scratch, sizeof scratch, "/tmp/vqc-ckpt-test-XXXXXX");
    return mkdtemp(scratch) ? 0 : -1;
}

static inline void scratch_remove(void)
{
    DIR *d = opendir(scratch);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", scratch, e->d_name);
        if (unlink(p)) rmdir(p);
    }
    closedir(d);
    rmdir(scratch);
}

static inline void scratch_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", scratch, name);
}

/* Entries in the scratch directory whose name starts with prefix. */
static inline int scratch_count(const char *prefix)
{
    DIR *d = opendir(scratch);
    int n = 0;
    struct dirent *e;
    if (!d) return -1;
    while ((e = readdir(d))) n += !strncmp(e->d_name, prefix, strlen(prefix));
    closedir(d);
    return n;
}

static inline unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    *n = b ? fread(b, 1, (size_t)len, f) : 0;
    fclose(f);
    return b;
}

static inline int spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(b, 1, n, f);
    return (fclose(f) || w != n) ? -1 : 0;
}

#endif
