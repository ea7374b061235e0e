/* http_server_route — route patterns and matching for the HTTP server.
 *
 * A pattern is "/"-separated segments, each a literal or "{name}". Compiling
 * splits it once; matching splits the request path (as received,
 * percent-encoded) into segments, decodes each, and walks the table. Where
 * several patterns match, the most specific wins: the one with a literal at
 * the first segment where the others have a parameter (a bit mask compared
 * as a number, the first segment in the highest bit). Pure: no I/O, strings
 * of a match live in the caller's arena. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"
#include "net/http_server_internal.h"

static bool method_valid(const char *method)
{
    if (!method || !*method || strlen(method) > 16)
        return false;
    for (const char *p = method; *p; p++)
        if (*p < 'A' || *p > 'Z')
            return false;
    return true;
}

static bool param_name_valid(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

int http_route_compile(struct http_route *r, const char *method, const char *pattern, char *err,
                       size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (!method_valid(method)) {
        snprintf(err, errlen, "invalid method \"%s\"", method ? method : "(null)");
        return ERR_INVALID;
    }
    if (!pattern || pattern[0] != '/') {
        snprintf(err, errlen, "a route pattern must start with '/'");
        return ERR_INVALID;
    }
    r->method = xstrdup(method);
    r->pattern = xstrdup(pattern);
    const char *p = pattern + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (r->nsegments == HTTP_SERVER_MAX_SEGMENTS) {
            snprintf(err, errlen, "pattern \"%s\" has more than %d segments", pattern,
                     HTTP_SERVER_MAX_SEGMENTS);
            http_route_free(r);
            return ERR_LIMIT;
        }
        bool is_param = len >= 2 && p[0] == '{' && p[len - 1] == '}';
        if (is_param && !param_name_valid(p + 1, len - 2)) {
            snprintf(err, errlen, "invalid parameter \"%.*s\" in \"%s\"", (int)len, p, pattern);
            http_route_free(r);
            return ERR_INVALID;
        }
        if (!is_param && (memchr(p, '{', len) || memchr(p, '}', len) || memchr(p, '%', len))) {
            snprintf(err, errlen, "segment \"%.*s\" of \"%s\" must be a literal or {name}",
                     (int)len, p, pattern);
            http_route_free(r);
            return ERR_INVALID;
        }
        if (is_param)
            r->param_mask |= 1u << r->nsegments;
        r->segments[r->nsegments++] = is_param ? xstrndup(p + 1, len - 2) : xstrndup(p, len);
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

void http_route_free(struct http_route *r)
{
    free(r->method);
    free(r->pattern);
    for (size_t i = 0; i < r->nsegments; i++)
        free(r->segments[i]);
    free(r->content_type);
    free(r->cache_control);
    memset(r, 0, sizeof *r);
}

bool http_route_same(const struct http_route *a, const struct http_route *b)
{
    if (strcmp(a->method, b->method) != 0 || a->nsegments != b->nsegments ||
        a->param_mask != b->param_mask)
        return false;
    for (size_t i = 0; i < a->nsegments; i++)
        if (!(a->param_mask & (1u << i)) && strcmp(a->segments[i], b->segments[i]) != 0)
            return false;
    return true;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t http_percent_decode(char *s, bool plus_is_space)
{
    char *out = s;
    for (const char *in = s; *in; in++) {
        int hi, lo;
        if (*in == '%' && (hi = hex_value(in[1])) >= 0 && (lo = hex_value(in[2])) >= 0) {
            *out++ = (char)(hi * 16 + lo);
            in += 2;
        } else if (*in == '+' && plus_is_space) {
            *out++ = ' ';
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
    return (size_t)(out - s);
}

/* The path's decoded segments; false when there are too many or one decodes
 * to a NUL byte (no route can match such a path). */
static bool split_path(const char *raw_path, struct http_arena *arena, char **segments, size_t *n)
{
    *n = 0;
    const char *p = raw_path[0] == '/' ? raw_path + 1 : raw_path;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (*n == HTTP_SERVER_MAX_SEGMENTS)
            return false;
        char *seg = http_arena_strndup(arena, p, len);
        if (http_percent_decode(seg, false) != strlen(seg))
            return false;
        segments[(*n)++] = seg;
        if (!end)
            return true;
        p = end + 1;
    }
}

static bool route_matches_path(const struct http_route *r, char *const *segments, size_t n)
{
    if (r->nsegments != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (r->param_mask & (1u << i)) {
            if (!segments[i][0])
                return false;
        } else if (strcmp(r->segments[i], segments[i]) != 0) {
            return false;
        }
    }
    return true;
}

/* Literal segments as a number whose highest bit is the first segment. */
static uint64_t specificity(const struct http_route *r)
{
    uint64_t score = 0;
    for (size_t i = 0; i < r->nsegments; i++)
        if (!(r->param_mask & (1u << i)))
            score |= 1ull << (HTTP_SERVER_MAX_SEGMENTS - 1 - i);
    return score;
}

static void allow_add(char *allow, const char *method)
{
    size_t mlen = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += mlen)
        if ((p == allow || p[-1] == ' ') && (p[mlen] == ',' || p[mlen] == '\0'))
            return;
    size_t used = strlen(allow);
    if (used + mlen + 3 > HTTP_ALLOW_MAX)
        return;
    snprintf(allow + used, HTTP_ALLOW_MAX - used, "%s%s", used ? ", " : "", method);
}

void http_route_find(const struct http_route *routes, size_t nroutes, const char *method,
                     const char *raw_path, struct http_arena *arena, struct http_route_match *m)
{
    memset(m, 0, sizeof *m);
    char *segments[HTTP_SERVER_MAX_SEGMENTS];
    size_t n;
    if (!split_path(raw_path, arena, segments, &n))
        return;
    bool head = strcmp(method, "HEAD") == 0;
    uint64_t best = 0;
    for (size_t i = 0; i < nroutes; i++) {
        const struct http_route *r = &routes[i];
        if (!route_matches_path(r, segments, n))
            continue;
        m->path_known = true;
        allow_add(m->allow, r->method);
        if (strcmp(r->method, "GET") == 0)
            allow_add(m->allow, "HEAD");
        bool method_ok = strcmp(r->method, method) == 0 || (head && !strcmp(r->method, "GET"));
        uint64_t score = specificity(r);
        if (method_ok && (!m->route || score > best)) {
            m->route = r;
            best = score;
        }
    }
    if (m->path_known)
        allow_add(m->allow, "OPTIONS");
    if (!m->route)
        return;
    for (size_t i = 0; i < n; i++) {
        if (m->route->param_mask & (1u << i)) {
            m->params[m->nparams].name = m->route->segments[i];
            m->params[m->nparams].value = segments[i];
            m->nparams++;
        }
    }
}
