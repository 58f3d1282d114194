/* fuzz_util.h: what every fuzz target shares.
 *
 * FUZZ_CHECK(cond): an oracle. The targets do more than "does not crash": where
 * a loader promises something about what it accepts (tensors tile the buffer,
 * an image has the size it claims), the target checks it and aborts when the
 * promise is broken, so libFuzzer (or the replay build) reports it as a crash.
 *
 * fuzz_path(): the loaders that only take a path (IDX through zlib's gzopen,
 * PNG through fopen) read the input from an in-memory file (memfd), named by
 * "/proc/self/fd/N", so fuzzing writes nothing to disk.
 *
 * Not here: the entry point for files (replay_main.c) or any knowledge of a format. */
#ifndef VQ_FUZZ_UTIL_H
#define VQ_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: fuzz oracle failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* Puts data[0..size) into this process's one memfd (created on first use,
 * truncated each time) and returns its /proc path; aborts if memfd fails,
 * which is the harness's problem, not an input's. */
static inline const char *fuzz_path(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-input", 0);
        FUZZ_CHECK(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    FUZZ_CHECK(ftruncate(fd, 0) == 0);
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        FUZZ_CHECK(w > 0);
        done += (size_t)w;
    }
    return path;
}

/* Reads every byte of p[0..n) so that AddressSanitizer sees any access past
 * the end of what a loader handed out; the result only defeats the optimizer. */
static inline unsigned fuzz_touch(const void *p, size_t n)
{
    const volatile uint8_t *b = p;
    unsigned acc = 0;
    for (size_t i = 0; i < n; i++) acc += b[i];
    return acc;
}

#endif
