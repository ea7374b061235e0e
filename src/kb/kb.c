/* kb — the playbook index: Markdown import, FTS5 storage, sanitised BM25 search.
 *
 * Owns one SQLite connection per struct kb, opened serialized (FULLMUTEX), so
 * one struct kb may be searched from several threads at once. The database
 * holds three tables, both FTS5 ones with the porter tokenizer over unicode61:
 *   kb_passage (source UNINDEXED, title, section, body) — one row a passage;
 *   kb_doc     (source UNINDEXED, title, headings, body) — one row a file;
 *   kb_meta    key/value: schema version, when and from where the last import came.
 * A hit's heading path is "title › section". Keeping title and section apart
 * lets bm25 weigh them differently (the title says which document, the section
 * which passage of it), and a passage's score adds its document's score, so a
 * short passage that merely mentions "primer video" elsewhere does not beat the
 * document about the primer video. Import reads each file whole (bounded),
 * checks it is UTF-8, cuts it at headings outside code fences and inserts the
 * rows, all inside one BEGIN IMMEDIATE transaction that starts by deleting the
 * old rows; any error rolls back. Search never passes user text to the FTS5
 * parser: kb_query_expression rebuilds it from words (kb_internal.h), so the
 * only syntax FTS5 ever sees is `"word" OR "word"`. See kb.h. */
#include "kb/kb.h"

#include <dirent.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "kb/kb_internal.h"

/* bm25 column weights: source (unindexed), title, section, body. A word in a
 * heading is worth several in the body, since headings say what a passage is
 * about; the section heading most, since it tells passages of one document
 * apart. */
#define KB_BM25 "bm25(kb_passage, 0.0, 4.0, 6.0, 1.0)"
/* A passage's score adds its document's score (title over section headings
 * over body) times KB_DOC_WEIGHT: a short passage that merely mentions a topic
 * in another document must not outrank the document about that topic. */
#define KB_DOC_BM25   "bm25(kb_doc, 0.0, 3.0, 2.0, 1.0)"
#define KB_DOC_WEIGHT "1.0"
#define KB_SNIPPET    "snippet(kb_passage, 3, '', '', '…', 24)"
#define KB_SCHEMA     "2" /* bump when the table layout changes: the index is rebuilt */
#define KB_BUSY_MS    5000
#define KB_SEPARATOR  " › "
#define KB_LEVELS     3

struct kb {
    sqlite3 *db;
};

static const char meta_sql[] =
    "CREATE TABLE IF NOT EXISTS kb_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);";
static const char passage_sql[] =
    "CREATE VIRTUAL TABLE IF NOT EXISTS kb_passage USING fts5("
    "  source UNINDEXED, title, section, body, tokenize = 'porter unicode61');"
    "CREATE VIRTUAL TABLE IF NOT EXISTS kb_doc USING fts5("
    "  source UNINDEXED, title, headings, body, tokenize = 'porter unicode61');";

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int exec_sql(struct kb *kb, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(kb->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    set_err(err, errlen, "kb: %s", msg ? msg : sqlite3_errmsg(kb->db));
    sqlite3_free(msg);
    return ERR_IO;
}

static char *column_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    return xstrdup(text ? (const char *)text : "");
}

static char *get_meta(struct kb *kb, const char *key)
{
    sqlite3_stmt *st = NULL;
    char *value = NULL;
    if (sqlite3_prepare_v2(kb->db, "SELECT value FROM kb_meta WHERE key = ?1", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            value = column_dup(st, 0);
    }
    sqlite3_finalize(st);
    return value;
}

static int set_meta(struct kb *kb, const char *key, const char *value, char *err, size_t errlen)
{
    static const char sql[] = "INSERT OR REPLACE INTO kb_meta(key, value) VALUES(?1, ?2)";
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(kb->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = ERR_IO;
        goto out;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = ERR_IO;
out:
    if (rc)
        set_err(err, errlen, "kb: cannot record %s: %s", key, sqlite3_errmsg(kb->db));
    sqlite3_finalize(st);
    return rc;
}

/* Creates the tables, rebuilding the passage table when it was made by an
 * older layout (the playbook is re-imported on next use). */
static int create_schema(struct kb *kb, char *err, size_t errlen)
{
    int rc = exec_sql(kb, "BEGIN IMMEDIATE;", err, errlen);
    if (rc)
        return rc;
    rc = exec_sql(kb, meta_sql, err, errlen);
    char *version = rc ? NULL : get_meta(kb, "schema");
    if (rc == 0 && (!version || strcmp(version, KB_SCHEMA) != 0)) {
        rc = exec_sql(kb, "DROP TABLE IF EXISTS kb_passage; DROP TABLE IF EXISTS kb_doc;", err,
                      errlen);
        if (rc == 0)
            rc = set_meta(kb, "schema", KB_SCHEMA, err, errlen);
    }
    if (rc == 0)
        rc = exec_sql(kb, passage_sql, err, errlen);
    rc = rc ? rc : exec_sql(kb, "COMMIT;", err, errlen);
    if (rc)
        sqlite3_exec(kb->db, "ROLLBACK;", NULL, NULL, NULL);
    free(version);
    return rc;
}

int kb_open(const char *path, struct kb **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!path || !*path) {
        set_err(err, errlen, "kb: no index path given");
        return ERR_INVALID;
    }
    struct kb *kb = xcalloc(1, sizeof *kb);
    int rc = 0;
    /* Serialized (FULLMUTEX) whatever the library's default: `harde serve`
     * shares a few handles among its turn workers (web/server.c). */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &kb->db, flags, NULL) != SQLITE_OK) {
        set_err(err, errlen, "kb: cannot open %s: %s", path,
                kb->db ? sqlite3_errmsg(kb->db) : "out of memory");
        rc = ERR_IO;
        goto out;
    }
    sqlite3_busy_timeout(kb->db, KB_BUSY_MS);
    /* WAL lets a server search while a worker re-imports; ":memory:" ignores it. */
    sqlite3_exec(kb->db, "PRAGMA journal_mode = WAL;", NULL, NULL, NULL);
    if (!sqlite3_compileoption_used("ENABLE_FTS5")) {
        set_err(err, errlen, "kb: this SQLite library was built without FTS5");
        rc = ERR_CONFIG;
        goto out;
    }
    rc = create_schema(kb, err, errlen);
out:
    if (rc) {
        kb_close(kb);
        return rc;
    }
    *out = kb;
    return 0;
}

void kb_close(struct kb *kb)
{
    if (!kb)
        return;
    sqlite3_close(kb->db);
    free(kb);
}

/* ---- import: files ---------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

static bool is_markdown_file(const char *dir, const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.' || n <= 3 || strcmp(name + n - 3, ".md") != 0)
        return false;
    char *path = xasprintf("%s/%s", dir, name);
    struct stat st;
    bool regular = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    free(path);
    return regular;
}

/* The .md file names in dir, sorted. 0 with *names new (free_names), or an error. */
static int list_markdown(const char *dir, char ***names, size_t *count, char *err, size_t errlen)
{
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) {
        set_err(err, errlen, "kb: cannot open directory %s: %s", dir, strerror(errno));
        return ERR_IO;
    }
    char **list = NULL;
    size_t n = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_markdown_file(dir, e->d_name))
            continue;
        if (n == KB_MAX_FILES) {
            set_err(err, errlen, "kb: %s holds more than %d .md files", dir, KB_MAX_FILES);
            rc = ERR_LIMIT;
            goto out;
        }
        list = xrealloc(list, (n + 1) * sizeof *list);
        list[n++] = xstrdup(e->d_name);
    }
    if (n == 0) {
        set_err(err, errlen, "kb: no .md files in %s", dir);
        rc = ERR_NOT_FOUND;
        goto out;
    }
    qsort(list, n, sizeof *list, cmp_names);
out:
    closedir(d);
    if (rc) {
        free_names(list, n);
        return rc;
    }
    *names = list;
    *count = n;
    return 0;
}

/* Reads path whole into a new NUL-terminated string after checking size,
 * UTF-8 and the absence of NUL bytes. */
static int read_markdown(const char *path, const char *name, char **out, size_t *outlen, char *err,
                         size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, errlen, "kb: cannot read %s: %s", name, strerror(errno));
        return ERR_IO;
    }
    struct buf b;
    buf_init(&b, KB_MAX_FILE_BYTES);
    char chunk[8192];
    size_t got;
    int rc = 0;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf_append(&b, chunk, got) != 0) {
            set_err(err, errlen, "kb: %s is larger than %d bytes", name, KB_MAX_FILE_BYTES);
            rc = ERR_LIMIT;
            goto out;
        }
    }
    if (ferror(f)) {
        set_err(err, errlen, "kb: cannot read %s: %s", name, strerror(errno));
        rc = ERR_IO;
        goto out;
    }
    size_t bad = 0;
    if (!kb_text_utf8_valid(buf_str(&b), b.len, &bad)) {
        set_err(err, errlen, "kb: %s is not valid UTF-8 (bad byte at offset %zu)", name, bad);
        rc = ERR_PARSE;
        goto out;
    }
    if (memchr(buf_str(&b), '\0', b.len)) {
        set_err(err, errlen, "kb: %s contains a NUL byte", name);
        rc = ERR_PARSE;
        goto out;
    }
    *outlen = b.len;
    *out = buf_steal(&b);
out:
    fclose(f);
    buf_free(&b);
    return rc;
}

/* ---- import: splitting Markdown into passages ------------------------- */

struct splitter {
    sqlite3_stmt *insert;
    const char *source;                       /* file name (borrowed) */
    char stem[KB_MAX_HEADING_BYTES + 1];      /* title when the file has no `#` */
    char doc_title[KB_MAX_HEADING_BYTES + 1]; /* the first `#` heading */
    struct buf headings;                      /* every `##` and `###` heading, one a line */
    char heads[KB_LEVELS][KB_MAX_HEADING_BYTES + 1];
    struct buf body;
    long *total; /* passages in this import so far */
    char *err;
    size_t errlen;
};

static void copy_heading(char *dst, const char *src, size_t len)
{
    len = kb_text_utf8_floor(src, len, len > KB_MAX_HEADING_BYTES ? KB_MAX_HEADING_BYTES : len);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* The heading level (1-3) of a Markdown line, 0 when it is not a heading;
 * *text / *textlen receive the heading text without markers. */
static int heading_level(const char *line, size_t len, const char **text, size_t *textlen)
{
    size_t i = 0, hashes = 0;
    while (i < len && i < 3 && line[i] == ' ')
        i++;
    while (i < len && line[i] == '#')
        i++, hashes++;
    if (hashes < 1 || hashes > KB_LEVELS || (i < len && line[i] != ' ' && line[i] != '\t'))
        return 0;
    size_t end = len;
    while (end > i && is_space(line[end - 1]))
        end--;
    size_t closing = end; /* an optional closing run of '#' after a space */
    while (closing > i && line[closing - 1] == '#')
        closing--;
    if (closing < end && (closing == i || line[closing - 1] == ' '))
        end = closing;
    while (i < end && is_space(line[i]))
        i++;
    while (end > i && is_space(line[end - 1]))
        end--;
    *text = line + i;
    *textlen = end - i;
    return (int)hashes;
}

static bool is_fence(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && i < 3 && line[i] == ' ')
        i++;
    return len - i >= 3 && (memcmp(line + i, "```", 3) == 0 || memcmp(line + i, "~~~", 3) == 0);
}

/* Where to cut a body longer than the passage limit: after a blank line,
 * else a newline, else a space in the second half of the window, else at a
 * character boundary. */
static size_t cut_point(const char *s, size_t len)
{
    size_t max = KB_MAX_PASSAGE_BYTES;
    if (len <= max)
        return len;
    for (size_t i = max; i > max / 2; i--)
        if (s[i - 1] == '\n' && s[i - 2] == '\n')
            return i;
    for (size_t i = max; i > max / 2; i--)
        if (s[i - 1] == '\n' || s[i - 1] == ' ')
            return i;
    return kb_text_utf8_floor(s, len, max);
}

static int insert_passage(struct splitter *sp, const char *title, const char *section,
                          const char *text, size_t len)
{
    if (*sp->total >= KB_MAX_PASSAGES) {
        set_err(sp->err, sp->errlen, "kb: %s: more than %d passages in this import", sp->source,
                KB_MAX_PASSAGES);
        return ERR_LIMIT;
    }
    sqlite3_stmt *st = sp->insert;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, sp->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, section, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, text, (int)len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        set_err(sp->err, sp->errlen, "kb: %s: %s", sp->source,
                sqlite3_errmsg(sqlite3_db_handle(st)));
        return ERR_IO;
    }
    (*sp->total)++;
    return 0;
}

/* Turns the body collected under the current headings into passages. */
static int flush_section(struct splitter *sp)
{
    const char *s = buf_str(&sp->body);
    size_t len = sp->body.len;
    int rc = 0;
    const char *title = sp->heads[0][0] ? sp->heads[0] : sp->stem;
    char *section = xstrdup("");
    for (int level = 1; level < KB_LEVELS; level++) {
        if (!sp->heads[level][0])
            continue;
        char *longer = xasprintf("%s%s%s", section, *section ? KB_SEPARATOR : "", sp->heads[level]);
        free(section);
        section = longer;
    }
    while (rc == 0) {
        while (len > 0 && is_space(*s))
            s++, len--;
        while (len > 0 && is_space(s[len - 1]))
            len--;
        if (len == 0)
            break;
        size_t cut = cut_point(s, len), part = cut;
        while (part > 0 && is_space(s[part - 1]))
            part--;
        rc = insert_passage(sp, title, section, s, part);
        s += cut;
        len -= cut;
    }
    free(section);
    buf_reset(&sp->body);
    return rc;
}

static int split_line(struct splitter *sp, const char *line, size_t len, bool *in_fence)
{
    const char *text;
    size_t textlen;
    int level = *in_fence ? 0 : heading_level(line, len, &text, &textlen);
    if (level == 0) {
        if (is_fence(line, len))
            *in_fence = !*in_fence;
        if (buf_append(&sp->body, line, len) || buf_append_char(&sp->body, '\n')) {
            set_err(sp->err, sp->errlen, "kb: %s: section too large", sp->source);
            return ERR_LIMIT;
        }
        return 0;
    }
    int rc = flush_section(sp);
    if (rc)
        return rc;
    copy_heading(sp->heads[level - 1], text, textlen);
    if (level == 1 && !sp->doc_title[0])
        copy_heading(sp->doc_title, text, textlen);
    else if (level > 1 && (buf_append_str(&sp->headings, sp->heads[level - 1]) ||
                           buf_append_char(&sp->headings, '\n')))
        return ERR_LIMIT; /* cannot happen: headings are part of a bounded file */
    for (int deeper = level; deeper < KB_LEVELS; deeper++)
        sp->heads[deeper][0] = '\0';
    return 0;
}

static int split_markdown(struct splitter *sp, const char *text, size_t len)
{
    bool in_fence = false;
    size_t pos = 0;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        pos = 3; /* byte order mark */
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t linelen = end - pos;
        if (linelen > 0 && text[end - 1] == '\r')
            linelen--;
        int rc = split_line(sp, text + pos, linelen, &in_fence);
        if (rc)
            return rc;
        pos = end + 1;
    }
    return flush_section(sp);
}

struct import_stmts {
    sqlite3_stmt *passage; /* INSERT INTO kb_passage */
    sqlite3_stmt *doc;     /* INSERT INTO kb_doc */
};

static int insert_doc(sqlite3_stmt *st, const struct splitter *sp, const char *text, size_t len)
{
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, sp->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sp->doc_title[0] ? sp->doc_title : sp->stem, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, buf_str(&sp->headings), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, text, (int)len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        set_err(sp->err, sp->errlen, "kb: %s: %s", sp->source,
                sqlite3_errmsg(sqlite3_db_handle(st)));
        return ERR_IO;
    }
    return 0;
}

static int import_file(const struct import_stmts *stmts, const char *dir, const char *name,
                       long *total, char *err, size_t errlen)
{
    char *path = xasprintf("%s/%s", dir, name);
    char *text = NULL;
    size_t len = 0;
    struct splitter *sp = xcalloc(1, sizeof *sp);
    int rc = read_markdown(path, name, &text, &len, err, errlen);
    if (rc)
        goto out;
    sp->insert = stmts->passage;
    sp->source = name;
    copy_heading(sp->stem, name, strlen(name) - 3);
    buf_init(&sp->body, KB_MAX_FILE_BYTES + 1);
    buf_init(&sp->headings, KB_MAX_FILE_BYTES + 1);
    sp->total = total;
    sp->err = err;
    sp->errlen = errlen;
    rc = split_markdown(sp, text, len);
    if (rc == 0)
        rc = insert_doc(stmts->doc, sp, text, len);
    buf_free(&sp->body);
    buf_free(&sp->headings);
out:
    free(sp);
    free(text);
    free(path);
    return rc;
}

static int import_all(struct kb *kb, const char *dir, char **names, size_t count, long *total,
                      char *err, size_t errlen)
{
    static const char passage_insert[] =
        "INSERT INTO kb_passage(source, title, section, body) VALUES(?,?,?,?)";
    static const char doc_insert[] =
        "INSERT INTO kb_doc(source, title, headings, body) VALUES(?,?,?,?)";
    struct import_stmts stmts = {NULL, NULL};
    int rc = exec_sql(kb, "DELETE FROM kb_passage; DELETE FROM kb_doc;", err, errlen);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(kb->db, passage_insert, -1, &stmts.passage, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(kb->db, doc_insert, -1, &stmts.doc, NULL) != SQLITE_OK) {
        set_err(err, errlen, "kb: %s", sqlite3_errmsg(kb->db));
        rc = ERR_IO;
        goto out;
    }
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = import_file(&stmts, dir, names[i], total, err, errlen);
    if (rc)
        goto out;
    char stamp[32];
    snprintf(stamp, sizeof stamp, "%lld", (long long)clock_wall_ms());
    rc = set_meta(kb, "imported_at_ms", stamp, err, errlen);
    if (rc == 0)
        rc = set_meta(kb, "source_dir", dir, err, errlen);
    if (rc == 0)
        rc = exec_sql(kb,
                      "INSERT INTO kb_passage(kb_passage) VALUES('optimize');"
                      "INSERT INTO kb_doc(kb_doc) VALUES('optimize');",
                      err, errlen);
out:
    sqlite3_finalize(stmts.passage);
    sqlite3_finalize(stmts.doc);
    return rc;
}

int kb_import_dir(struct kb *kb, const char *dir, long *passages, char *err, size_t errlen)
{
    char **names = NULL;
    size_t count = 0;
    long total = 0;
    if (!dir || !*dir) {
        set_err(err, errlen, "kb: no playbook directory given");
        return ERR_INVALID;
    }
    int rc = list_markdown(dir, &names, &count, err, errlen);
    if (rc)
        return rc;
    rc = exec_sql(kb, "BEGIN IMMEDIATE;", err, errlen);
    if (rc)
        goto out;
    rc = import_all(kb, dir, names, count, &total, err, errlen);
    if (rc == 0)
        rc = exec_sql(kb, "COMMIT;", err, errlen);
    if (rc)
        sqlite3_exec(kb->db, "ROLLBACK;", NULL, NULL, NULL);
out:
    free_names(names, count);
    if (rc == 0 && passages)
        *passages = total;
    return rc;
}

long kb_passage_count(struct kb *kb)
{
    sqlite3_stmt *st = NULL;
    long count = ERR_IO;
    if (sqlite3_prepare_v2(kb->db, "SELECT count(*) FROM kb_passage", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        count = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return count;
}

int kb_ensure_imported(struct kb *kb, const char *default_dir, char *err, size_t errlen)
{
    long count = kb_passage_count(kb);
    if (count < 0) {
        set_err(err, errlen, "kb: cannot count passages: %s", sqlite3_errmsg(kb->db));
        return (int)count;
    }
    if (count > 0)
        return 0;
    return kb_import_dir(kb, default_dir, NULL, err, errlen);
}

/* ---- search ----------------------------------------------------------- */

char *kb_query_expression(const char *query)
{
    kb_term terms[KB_TERMS_MAX];
    size_t count = kb_text_terms(query, terms, KB_TERMS_MAX, false);
    if (count == 0)
        return NULL;
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < count; i++)
        buf_printf(&b, "%s\"%s\"", i ? " OR " : "", terms[i]);
    return buf_steal(&b);
}

/* "title › section", or the title alone (new string). */
static char *heading_path(sqlite3_stmt *st, int title_col, int section_col)
{
    const unsigned char *title = sqlite3_column_text(st, title_col);
    const unsigned char *section = sqlite3_column_text(st, section_col);
    if (!section || !*section)
        return xstrdup(title ? (const char *)title : "");
    return xasprintf("%s%s%s", title ? (const char *)title : "", KB_SEPARATOR,
                     (const char *)section);
}

int kb_search(struct kb *kb, const char *query, size_t k, struct kb_results *out, char *err,
              size_t errlen)
{
    static const char sql[] =
        "SELECT p.source, p.title, p.section, p.body,"
        "  -" KB_BM25 " + " KB_DOC_WEIGHT " * coalesce(d.score, 0.0) AS score, " KB_SNIPPET
        " FROM kb_passage p LEFT JOIN"
        "  (SELECT source, -" KB_DOC_BM25 " AS score FROM kb_doc WHERE kb_doc MATCH ?1) d"
        "  ON d.source = p.source"
        " WHERE kb_passage MATCH ?1 ORDER BY score DESC, p.rowid LIMIT ?2";
    out->hits = NULL;
    out->count = 0;
    char *expr = kb_query_expression(query);
    sqlite3_stmt *st = NULL;
    int rc = 0, step = SQLITE_DONE;
    if (!expr || k == 0)
        goto out;
    if (k > KB_MAX_K)
        k = KB_MAX_K;
    if (sqlite3_prepare_v2(kb->db, sql, -1, &st, NULL) != SQLITE_OK) {
        set_err(err, errlen, "kb: search failed: %s", sqlite3_errmsg(kb->db));
        rc = ERR_IO;
        goto out;
    }
    sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)k);
    out->hits = xcalloc(k, sizeof *out->hits);
    while (out->count < k && (step = sqlite3_step(st)) == SQLITE_ROW) {
        struct kb_hit *h = &out->hits[out->count++];
        h->source = column_dup(st, 0);
        h->heading = heading_path(st, 1, 2);
        h->text = column_dup(st, 3);
        h->score = sqlite3_column_double(st, 4);
        h->snippet = column_dup(st, 5);
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        set_err(err, errlen, "kb: search failed: %s", sqlite3_errmsg(kb->db));
        rc = ERR_IO;
    }
out:
    sqlite3_finalize(st);
    free(expr);
    if (rc)
        kb_results_free(out);
    return rc;
}

void kb_results_free(struct kb_results *results)
{
    if (!results)
        return;
    for (size_t i = 0; i < results->count; i++) {
        struct kb_hit *h = &results->hits[i];
        free(h->source);
        free(h->heading);
        free(h->text);
        free(h->snippet);
    }
    free(results->hits);
    results->hits = NULL;
    results->count = 0;
}

/* ---- stats ------------------------------------------------------------ */

int kb_stats_get(struct kb *kb, struct kb_stats *out, char *err, size_t errlen)
{
    static const char sql[] = "SELECT source, count(*), sum(length(CAST(body AS BLOB)))"
                              " FROM kb_passage GROUP BY source ORDER BY source";
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    int rc = 0, step;
    char *stamp = get_meta(kb, "imported_at_ms");
    out->imported_at_ms = stamp ? strtoll(stamp, NULL, 10) : 0;
    free(stamp);
    out->source_dir = get_meta(kb, "source_dir");
    if (!out->source_dir)
        out->source_dir = xstrdup("");
    if (sqlite3_prepare_v2(kb->db, sql, -1, &st, NULL) != SQLITE_OK) {
        set_err(err, errlen, "kb: stats failed: %s", sqlite3_errmsg(kb->db));
        rc = ERR_IO;
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        out->sources = xrealloc(out->sources, (out->source_count + 1) * sizeof *out->sources);
        struct kb_source_stats *s = &out->sources[out->source_count++];
        s->source = column_dup(st, 0);
        s->passages = (long)sqlite3_column_int64(st, 1);
        s->bytes = (long)sqlite3_column_int64(st, 2);
        out->files++;
        out->passages += s->passages;
        out->bytes += s->bytes;
    }
    if (step != SQLITE_DONE) {
        set_err(err, errlen, "kb: stats failed: %s", sqlite3_errmsg(kb->db));
        rc = ERR_IO;
    }
out:
    sqlite3_finalize(st);
    if (rc)
        kb_stats_free(out);
    return rc;
}

void kb_stats_free(struct kb_stats *stats)
{
    if (!stats)
        return;
    for (size_t i = 0; i < stats->source_count; i++)
        free(stats->sources[i].source);
    free(stats->sources);
    free(stats->source_dir);
    memset(stats, 0, sizeof *stats);
}
