/* quote_text — the quote as a terminal table, and the `harde quote` helper.
 * Part of the quote module (contract: quote.h); quote.c does the arithmetic.
 *
 * Both only read a finished quote object, never the book's arithmetic, so the
 * table shows exactly the figures every other surface shows. Amounts are
 * turned back into integer cents (they are whole cents by construction) and
 * printed with thousands separators; columns are padded by UTF-8 characters so
 * labels with accents stay aligned. The CLI helper bounds what it reads
 * (QUOTE_MAX_REQUEST) and maps outcomes to exit codes: 0 priced, 1 bad book,
 * 2 bad request. */
#define _POSIX_C_SOURCE 200809L
#include "harde/quote.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"

#define TEXT_MAX (256 * 1024)

/* ---- the text table ------------------------------------------------------------------- */

static double num_at(const json_t *obj, const char *key)
{
    return json_number_value(json_object_get(obj, key));
}

static const char *str_at(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

/* units (a count of 10^-decimals) as "12,345.6700" trimmed to min_decimals. */
static void format_fixed(char *out, size_t n, int64_t units, int decimals, int min_decimals)
{
    uint64_t u = units < 0 ? -(uint64_t)units : (uint64_t)units, scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    char digits[32], grouped[48], frac[24];
    int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)(u / scale));
    size_t g = 0;
    if (units < 0)
        grouped[g++] = '-';
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            grouped[g++] = ',';
        grouped[g++] = digits[i];
    }
    grouped[g] = '\0';
    int flen = snprintf(frac, sizeof frac, "%0*llu", decimals, (unsigned long long)(u % scale));
    while (flen > min_decimals && frac[flen - 1] == '0')
        frac[--flen] = '\0';
    if (decimals == 0)
        flen = 0;
    snprintf(out, n, "%s%s%s", grouped, flen ? "." : "", flen ? frac : "");
}

static void format_money(char *out, size_t n, double value)
{
    format_fixed(out, n, llround(value * 100), 2, 2);
}

/* A number with up to 4 decimals, trailing zeros dropped ("160", "27.6667"). */
static void format_qty(char *out, size_t n, double value)
{
    format_fixed(out, n, llround(value * 10000), 4, 0);
}

/* Appends s padded with spaces to width columns (counting UTF-8 characters). */
static void append_cell(struct buf *b, const char *s, int width, bool right)
{
    int chars = 0;
    for (const char *p = s; *p; p++)
        chars += ((unsigned char)*p & 0xC0) != 0x80;
    int pad = width > chars ? width - chars : 0;
    if (!right)
        buf_append_str(b, s);
    for (int i = 0; i < pad; i++)
        buf_append_char(b, ' ');
    if (right)
        buf_append_str(b, s);
}

static void text_lines(struct buf *b, const json_t *quote)
{
    buf_printf(b, "Quote (%s)\n  ", str_at(quote, "currency"));
    append_cell(b, "Item", 32, false);
    buf_printf(b, "%10s  %-10s %12s %14s\n", "Qty", "Unit", "Unit price", "Amount");
    size_t i;
    const json_t *line;
    json_array_foreach(json_object_get(quote, "lines"), i, line)
    {
        char qty[48], price[48], amount[48];
        format_qty(qty, sizeof qty, num_at(line, "qty"));
        format_fixed(price, sizeof price, llround(num_at(line, "unit_price") * 10000), 4, 2);
        format_money(amount, sizeof amount, num_at(line, "amount"));
        buf_append_str(b, "  ");
        append_cell(b, str_at(line, "label"), 32, false);
        buf_printf(b, "%10s  ", qty);
        append_cell(b, str_at(line, "unit"), 10, false);
        buf_printf(b, " %12s %14s\n", price, amount);
    }
    char sub[48], tax[48], total[48], rate[48], label[64];
    format_money(sub, sizeof sub, num_at(quote, "subtotal"));
    format_money(tax, sizeof tax, num_at(quote, "tax"));
    format_money(total, sizeof total, num_at(quote, "total"));
    format_fixed(rate, sizeof rate, llround(num_at(quote, "tax_rate") * 1000000), 4, 0);
    snprintf(label, sizeof label, "Tax (%s%%)", rate);
    buf_printf(b, "  %67s %14s\n  %67s %14s\n  %67s %14s\n", "Subtotal", sub, label, tax, "Total",
               total);
    if (json_object_get(quote, "bundles")) {
        char squares[48], mult[48];
        format_qty(squares, sizeof squares, num_at(quote, "squares"));
        format_qty(mult, sizeof mult, num_at(quote, "pitch_multiplier"));
        buf_printf(b, "  Roof: %lld bundles = %s squares, pitch multiplier %s\n",
                   (long long)json_integer_value(json_object_get(quote, "bundles")), squares, mult);
    }
}

/* "285.16/mo x 120", then " (7.99% APR)" when with_apr. */
static void text_plan(struct buf *b, const json_t *plan, bool with_apr)
{
    char monthly[48], apr[48];
    format_money(monthly, sizeof monthly, num_at(plan, "monthly"));
    format_fixed(apr, sizeof apr, llround(num_at(plan, "apr") * 1000000), 4, 0);
    buf_printf(b, "%s/mo x %lld", monthly,
               (long long)json_integer_value(json_object_get(plan, "months")));
    if (with_apr)
        buf_printf(b, " (%s%% APR)", apr);
}

static void text_financing(struct buf *b, const json_t *quote)
{
    const json_t *plans = json_object_get(quote, "financing");
    if (json_array_size(plans) == 0)
        return;
    buf_append_str(b, "\nFinancing\n");
    size_t i;
    const json_t *plan;
    json_array_foreach(plans, i, plan)
    {
        buf_append_str(b, "  ");
        append_cell(b, str_at(plan, "name"), 32, false);
        text_plan(b, plan, true);
        buf_append_char(b, '\n');
    }
}

static void text_options(struct buf *b, const json_t *quote)
{
    const json_t *options = json_object_get(quote, "options");
    if (json_array_size(options) == 0)
        return;
    buf_append_str(b, "\nOptions (* = as quoted)\n");
    size_t i, j;
    const json_t *option, *plan;
    json_array_foreach(options, i, option)
    {
        char tier[16], total[48];
        snprintf(tier, sizeof tier, "%s", str_at(option, "tier"));
        if (tier[0] >= 'a' && tier[0] <= 'z')
            tier[0] = (char)(tier[0] - 'a' + 'A');
        format_money(total, sizeof total, num_at(option, "total"));
        buf_printf(b, "  %-7s%s ", tier,
                   json_is_true(json_object_get(option, "selected")) ? "*" : " ");
        append_cell(b, str_at(option, "label"), 30, false);
        buf_printf(b, " %14s", total);
        json_array_foreach(json_object_get(option, "financing"), j, plan)
        {
            buf_append_str(b, j ? ", " : "   ");
            text_plan(b, plan, false);
        }
        buf_append_char(b, '\n');
    }
}

char *quote_format_text(const json_t *quote)
{
    struct buf b;
    buf_init(&b, TEXT_MAX); /* a table past the limit is cut short, never unbounded */
    text_lines(&b, quote);
    text_financing(&b, quote);
    text_options(&b, quote);
    return buf_steal(&b);
}

/* "$1,780.72 a month over 12 months (0% APR) or $259.15 a month over 120 months (7.99% APR)" */
static void sentence_plans(struct buf *b, const json_t *plans)
{
    size_t i;
    const json_t *plan;
    json_array_foreach(plans, i, plan)
    {
        char monthly[48], apr[48];
        format_money(monthly, sizeof monthly, num_at(plan, "monthly"));
        format_fixed(apr, sizeof apr, llround(num_at(plan, "apr") * 1000000), 4, 0);
        buf_printf(b, "%s$%s a month over %lld months (%s, %s%% APR)",
                   i == 0 ? "" : (i + 1 == json_array_size(plans) ? " or " : ", "), monthly,
                   (long long)json_integer_value(json_object_get(plan, "months")),
                   str_at(plan, "name"), apr);
    }
}

char *quote_format_summary(const json_t *quote)
{
    struct buf b;
    buf_init(&b, TEXT_MAX);
    char total[48];
    format_money(total, sizeof total, num_at(quote, "total"));
    buf_printf(&b, "That job comes to **$%s**, tax and permit included.", total);
    const json_t *options = json_object_get(quote, "options");
    if (json_array_size(options) > 0) {
        buf_append_str(&b, " Good / Better / Best: ");
        size_t i;
        const json_t *option;
        json_array_foreach(options, i, option)
        {
            char t[48];
            format_money(t, sizeof t, num_at(option, "total"));
            buf_printf(&b, "%s%s $%s%s", i ? ", " : "", str_at(option, "label"), t,
                       json_is_true(json_object_get(option, "selected")) ? " (as quoted)" : "");
        }
        buf_append_char(&b, '.');
    }
    if (json_array_size(json_object_get(quote, "financing")) > 0) {
        buf_append_str(&b, " Financed: ");
        sentence_plans(&b, json_object_get(quote, "financing"));
        buf_append_char(&b, '.');
    }
    buf_append_str(&b, "\n\n```\n");
    char *table = quote_format_text(quote);
    buf_append_str(&b, table);
    free(table);
    buf_append_str(&b, "```");
    return buf_steal(&b);
}

char *quote_format_financing(const json_t *financing)
{
    struct buf b;
    buf_init(&b, TEXT_MAX);
    char amount[48];
    format_money(amount, sizeof amount, num_at(financing, "amount"));
    buf_printf(&b, "On $%s: ", amount);
    sentence_plans(&b, json_object_get(financing, "financing"));
    buf_append_char(&b, '.');
    return buf_steal(&b);
}

/* ---- the CLI helper ------------------------------------------------------------------- */

/* Reads f to the end into out: 0, ERR_LIMIT past out's maximum, or ERR_IO. */
static int read_all(FILE *f, struct buf *out)
{
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(out, chunk, n))
            return ERR_LIMIT;
    return ferror(f) ? ERR_IO : 0;
}

/* Loads the request JSON from request_path ("-" or NULL: in). New, or NULL
 * with the reason printed on err. */
static json_t *load_request(const char *request_path, FILE *in, FILE *err)
{
    bool from_in = !request_path || strcmp(request_path, "-") == 0;
    const char *name = from_in ? "standard input" : request_path;
    json_t *request = NULL;
    struct buf text;
    buf_init(&text, QUOTE_MAX_REQUEST);
    FILE *f = from_in ? in : fopen(request_path, "rb");
    if (!f) {
        fprintf(err, "harde quote: %s: %s\n", name, strerror(errno));
        goto out;
    }
    int rc = read_all(f, &text);
    if (!from_in)
        fclose(f);
    if (rc == ERR_LIMIT) {
        fprintf(err, "harde quote: %s: the request is larger than %d bytes\n", name,
                QUOTE_MAX_REQUEST);
        goto out;
    } else if (rc) {
        fprintf(err, "harde quote: %s: read error\n", name);
        goto out;
    }
    json_error_t jerr;
    request = json_loadb(buf_str(&text), text.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!request)
        fprintf(err, "harde quote: %s: line %d, column %d: %s\n", name, jerr.line, jerr.column,
                jerr.text);
out:
    buf_free(&text);
    return request;
}

int quote_cli_run(const char *book_path, const char *request_path, unsigned flags, FILE *in,
                  FILE *out, FILE *err)
{
    char msg[1024];
    int code = 1;
    json_t *request = NULL, *quote = NULL, *errors = NULL;
    struct price_book *book =
        book_path ? price_book_load_file(book_path, msg, sizeof msg) : price_book_load_default();
    if (!book) {
        fprintf(err, "harde quote: %s\n", msg);
        goto out;
    }
    code = 2;
    if (!(request = load_request(request_path, in, err)))
        goto out;
    if (quote_compute(book, request, &quote, &errors)) {
        size_t i;
        const json_t *e;
        json_array_foreach(errors, i, e) fprintf(err, "harde quote: %s\n", json_string_value(e));
        goto out;
    }
    if (flags & QUOTE_CLI_TEXT) {
        char *text = quote_format_text(quote);
        fputs(text, out);
        free(text);
    } else {
        json_dumpf(quote, out, JSON_INDENT(2) | QUOTE_JSON_FLAGS);
        fputc('\n', out);
    }
    code = fflush(out) == 0 ? 0 : 1;
out:
    json_decref(request);
    json_decref(quote);
    json_decref(errors);
    price_book_free(book);
    return code;
}
