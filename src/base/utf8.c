/* utf8 — UTF-8 validation and lossy JSON strings. See utf8.h. */
#include "base/utf8.h"

#include "base/buf.h"

/* Length of the valid UTF-8 sequence at p (1–4), or 0. */
size_t utf8_sequence(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

json_t *utf8_json_string(const char *s)
{
    if (!s)
        s = "";
    json_t *j = json_string(s);
    if (j)
        return j;
    struct buf b;
    buf_init(&b, 0);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_sequence(p);
        if (n) {
            buf_append(&b, p, n);
            p += n;
        } else {
            buf_append_str(&b, "\xEF\xBF\xBD");
            p++;
        }
    }
    j = json_string(buf_str(&b));
    buf_free(&b);
    return j;
}
