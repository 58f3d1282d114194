/* utf8.h: strict UTF-8 decoding for the scanner and for printing source lines.
 *
 * Strict means RFC 3629: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
 * above U+10FFFF, no truncated sequences. It is not a general Unicode library.
 */
#ifndef VQC_UTF8_H
#define VQC_UTF8_H

#include <stddef.h>
#include <stdint.h>

typedef enum utf8_error {
    UTF8_OK = 0,
    UTF8_BAD_LEAD,      /* 0x80..0xBF as first byte, or 0xC0, 0xC1, 0xF5..0xFF */
    UTF8_TRUNCATED,     /* a lead byte not followed by enough continuation bytes */
    UTF8_OVERLONG,      /* a code point encoded in more bytes than it needs */
    UTF8_SURROGATE,     /* U+D800..U+DFFF */
    UTF8_TOO_BIG,       /* above U+10FFFF */
} utf8_error;

/* Decode one code point from p[0..n). Returns its length in bytes (1..4) and sets
 * *cp, or returns 0 and sets *err. n must be >= 1. */
int utf8_decode(const unsigned char *p, size_t n, uint32_t *cp, utf8_error *err);

/* A short phrase for messages: "overlong encoding", ... */
const char *utf8_error_text(utf8_error e);

#endif
