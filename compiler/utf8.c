/* utf8.c: strict UTF-8 decoding (see utf8.h). Table 3-7 of the Unicode standard
 * gives the well-formed byte sequences; this checks the same ranges by value. */
#include "utf8.h"

int utf8_decode(const unsigned char *p, size_t n, uint32_t *cp, utf8_error *err)
{
    unsigned char b = p[0];
    int len;
    uint32_t c, min;
    if (b < 0x80) { *cp = b; return 1; }
    if (b >= 0xC2 && b <= 0xDF)      { len = 2; c = b & 0x1F; min = 0x80; }
    else if (b >= 0xE0 && b <= 0xEF) { len = 3; c = b & 0x0F; min = 0x800; }
    else if (b >= 0xF0 && b <= 0xF4) { len = 4; c = b & 0x07; min = 0x10000; }
    else if (b == 0xC0 || b == 0xC1) { *err = UTF8_OVERLONG; return 0; }
    else { *err = UTF8_BAD_LEAD; return 0; }
    for (int k = 1; k < len; k++) {
        if ((size_t)k >= n || (p[k] & 0xC0) != 0x80) { *err = UTF8_TRUNCATED; return 0; }
        c = (c << 6) | (p[k] & 0x3F);
    }
    if (c < min) { *err = UTF8_OVERLONG; return 0; }
    if (c >= 0xD800 && c <= 0xDFFF) { *err = UTF8_SURROGATE; return 0; }
    if (c > 0x10FFFF) { *err = UTF8_TOO_BIG; return 0; }
    *cp = c;
    return len;
}

const char *utf8_error_text(utf8_error e)
{
    switch (e) {
    case UTF8_OK: return "valid";
    case UTF8_BAD_LEAD: return "invalid byte";
    case UTF8_TRUNCATED: return "truncated sequence";
    case UTF8_OVERLONG: return "overlong encoding";
    case UTF8_SURROGATE: return "encoded surrogate";
    case UTF8_TOO_BIG: return "code point above U+10FFFF";
    }
    return "?";
}
