/* kb — the company playbook as an SQLite FTS5 index of passages, searched with BM25.
 *
 * The playbook is a directory of Markdown files (data/kb/NAME.md). Importing cuts
 * each file into passages at its `#`, `##` and `###` headings; a passage is
 * (source file, heading path "Title › Section", body text). An import replaces
 * the previous one in a single transaction, so readers see the old playbook or
 * the new one, never a mix, and a failed import (a file that is not UTF-8, a
 * limit exceeded) leaves the old one in place.
 *
 * Search takes a rep's words as typed. The text is never handed to FTS5's query
 * parser: it is cut into words, stop words dropped, and each remaining word
 * quoted and OR-ed, so quotes, colons, parentheses, `*`, `-`, NEAR/AND/OR can
 * never cause a syntax error. Ranking is bm25 with the title and section
 * headings weighted above the body, plus the bm25 of the whole document the
 * passage belongs to; the porter tokenizer lets "financing" find "finance".
 *
 * A struct kb is a handle on one database file, opened in SQLite's
 * serialized mode: several threads may share one handle (calls are then taken
 * one at a time; the web server keeps a few handles for its turn workers).
 * Several processes may share the file. */
#ifndef HARDE_KB_KB_H
#define HARDE_KB_KB_H

#include <stddef.h>
#include <stdint.h>

/* Limits. Too many files or passages, or too big a file, fail the import
 * with ERR_LIMIT naming the file; long sections and headings are cut. */
#define KB_MAX_FILES         1000      /* .md files in one import */
#define KB_MAX_FILE_BYTES    (1 << 20) /* one Markdown file */
#define KB_MAX_PASSAGE_BYTES 6000      /* longer sections are split into parts */
#define KB_MAX_HEADING_BYTES 200       /* each heading is cut to this */
#define KB_MAX_PASSAGES      100000    /* one import */
#define KB_MAX_K             50        /* most hits one search returns */

struct kb;

struct kb_hit {
    double score;  /* relevance (negated bm25 of passage + document), higher is better */
    char *source;  /* file name, e.g. "financing.md" */
    char *heading; /* heading path, e.g. "Financing › The Two Plans" */
    char *text;    /* the passage's Markdown body */
    char *snippet; /* a short plain excerpt of the body around the matched words */
};

struct kb_results {
    struct kb_hit *hits; /* best first */
    size_t count;
};

struct kb_source_stats {
    char *source;
    long passages;
    long bytes; /* body bytes */
};

struct kb_stats {
    long passages;
    long files;
    long bytes;                      /* body bytes over all passages */
    int64_t imported_at_ms;          /* wall clock of the last import, 0 = never */
    char *source_dir;                /* directory of the last import ("" = never) */
    struct kb_source_stats *sources; /* per file, sorted by name */
    size_t source_count;
};

/* Opens (creating if needed) the index database at path, e.g.
 * DATA_DIR/kb.sqlite (":memory:" works for tests). 0 and *out set to a new
 * handle (free with kb_close), or a negative ERR_* code with err filled
 * (ERR_IO when the file cannot be opened, ERR_CONFIG when SQLite lacks FTS5). */
int kb_open(const char *path, struct kb **out, char *err, size_t errlen);
void kb_close(struct kb *kb);

/* Replaces the index with the passages of every `*.md` file directly inside
 * dir (hidden files skipped, files taken in name order), atomically. 0 with
 * *passages (may be NULL) set to the number imported, or a negative ERR_*
 * code with err naming the file: ERR_PARSE for text that is not UTF-8,
 * ERR_LIMIT for a size limit, ERR_NOT_FOUND for a directory without .md
 * files, ERR_IO otherwise. On error the previous import is untouched. */
int kb_import_dir(struct kb *kb, const char *dir, long *passages, char *err, size_t errlen);

/* The number of passages in the index (0 = never imported or empty), or a
 * negative ERR_* code. */
long kb_passage_count(struct kb *kb);

/* Imports default_dir when the index is empty; does nothing otherwise. 0 or
 * a negative ERR_* code from kb_import_dir with err filled. */
int kb_ensure_imported(struct kb *kb, const char *default_dir, char *err, size_t errlen);

/* The k best passages for a free-text query (k is capped at KB_MAX_K). Any
 * text is accepted: a query with no searchable words yields no hits, not an
 * error. 0 and *out filled (free with kb_results_free; empty when nothing
 * matched), or a negative ERR_* code with err filled. */
int kb_search(struct kb *kb, const char *query, size_t k, struct kb_results *out, char *err,
              size_t errlen);
void kb_results_free(struct kb_results *results);

/* The FTS5 MATCH expression kb_search uses for query: its distinct non-stop
 * words, quoted and OR-ed ("\"price\" OR \"high\""). New string, or NULL when
 * the query has no searchable words. */
char *kb_query_expression(const char *query);

/* Counts for `harde kb stats`. 0 and *out filled (free with kb_stats_free),
 * or a negative ERR_* code with err filled. */
int kb_stats_get(struct kb *kb, struct kb_stats *out, char *err, size_t errlen);
void kb_stats_free(struct kb_stats *stats);

#endif
