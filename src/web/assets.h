/* assets — the files `harde serve` carries inside the binary: the page
 * (web/ui/index.html, app.js, style.css) and docs/openapi.json.
 *
 * The table is generated at build time by scripts/embed.py into
 * build/gen/web_assets.c (compiled into libharde), so no file is read at run
 * time and the page always matches the binary. Each asset has its URL path,
 * content type, bytes and a strong ETag (a digest of the bytes). */
#ifndef HARDE_WEB_ASSETS_H
#define HARDE_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *path;         /* "/index.html", "/app.js", "/openapi.json", … */
    const char *content_type; /* "text/html; charset=utf-8", … */
    const unsigned char *data;
    size_t len;
    const char *etag; /* "\"…\"" */
};

extern const struct web_asset web_assets[];
extern const size_t web_assets_count;

#endif
