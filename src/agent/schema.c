/* schema — JSON Schema validation of tool arguments. See schema.h.
 *
 * Owns: the process-wide cache of parsed tool schemas and of compiled
 * patterns (both behind one mutex; entries live until schema_cache_clear).
 *
 * Design: schema_check walks a schema once and refuses anything malformed or
 * unsupported, so schema_validate can trust its input and stay a plain
 * recursive walk over (schema, instance) that appends one sentence per
 * violation. The path of the value being checked is kept in a fixed buffer
 * that grows and shrinks as the walk descends ("roof.layers[2].kind"). A
 * failed "type" stops the other keywords at that value, so one mistake gives
 * one message, not a cascade. Patterns are ECMA-262 in JSON Schema; the common
 * subset (classes, \d \w \s, (?:…), lazy quantifiers) is translated to POSIX
 * extended syntax and compiled once; anything else is not enforced rather than
 * enforced wrongly. */
#define _POSIX_C_SOURCE 200809L
#include "agent/schema.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

#define SCHEMA_PATH_MAX    256
#define SCHEMA_GOT_MAX     64  /* characters of a bad value quoted back */
#define SCHEMA_ENUM_SHOWN  12  /* enum values listed in a message */
#define SCHEMA_CACHE_SLOTS 512 /* power of two */
#define SCHEMA_CACHE_MAX   384
#define REGEX_CACHE_MAX    64

/* ---- small helpers ------------------------------------------------------ */

struct path {
    char text[SCHEMA_PATH_MAX];
    size_t len;
};

/* Appends ".name" (or "name" at the root) or "[index]"; returns the old length
 * to restore with path_pop. A path that would overflow is cut with "…". */
static size_t path_push(struct path *p, const char *name, long index)
{
    size_t old = p->len;
    size_t room = sizeof p->text - p->len;
    int n;
    if (name)
        n = snprintf(p->text + p->len, room, "%s%s", p->len ? "." : "", name);
    else
        n = snprintf(p->text + p->len, room, "[%ld]", index);
    if (n < 0 || (size_t)n >= room) {
        /* Keep a visible marker that the path was cut. */
        p->len = sizeof p->text - 5;
        memcpy(p->text + p->len, "\xe2\x80\xa6", 4);
        p->len += 3;
    } else {
        p->len += (size_t)n;
    }
    return old;
}

static void path_pop(struct path *p, size_t old)
{
    p->len = old;
    p->text[old] = '\0';
}

static void format_number(const json_t *v, char *out, size_t outlen)
{
    if (json_is_integer(v))
        snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
    else
        snprintf(out, outlen, "%.15g", json_number_value(v));
}

/* A short description of a value for "(got …)": the value itself for scalars
 * (strings quoted and cut), "an object" / "an array" for containers. */
static void describe_value(const json_t *v, char *out, size_t outlen)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        snprintf(out, outlen, "an object");
        return;
    case JSON_ARRAY:
        snprintf(out, outlen, "an array");
        return;
    case JSON_STRING: {
        char *text = json_dumps(v, JSON_ENCODE_ANY);
        size_t len = text ? strlen(text) : 0;
        if (len > SCHEMA_GOT_MAX) {
            int cut = SCHEMA_GOT_MAX - 1;
            while (cut > 1 && ((unsigned char)text[cut] & 0xC0) == 0x80)
                cut--; /* do not split a UTF-8 sequence */
            snprintf(out, outlen, "%.*s\xe2\x80\xa6\"", cut, text);
        } else
            snprintf(out, outlen, "%s", text ? text : "\"\"");
        free(text);
        return;
    }
    case JSON_INTEGER:
    case JSON_REAL:
        format_number(v, out, outlen);
        return;
    case JSON_TRUE:
        snprintf(out, outlen, "true");
        return;
    case JSON_FALSE:
        snprintf(out, outlen, "false");
        return;
    case JSON_NULL:
        snprintf(out, outlen, "null");
        return;
    }
    snprintf(out, outlen, "a value");
}

static const char *const TYPE_NAMES[] = {"object",  "array",   "string", "number",
                                         "integer", "boolean", "null"};
static const char *const TYPE_PHRASES[] = {"an object",  "an array",  "a string", "a number",
                                           "an integer", "a boolean", "null"};

static int type_index(const char *name)
{
    for (size_t i = 0; i < sizeof TYPE_NAMES / sizeof TYPE_NAMES[0]; i++)
        if (strcmp(TYPE_NAMES[i], name) == 0)
            return (int)i;
    return -1;
}

static bool is_integral(const json_t *v)
{
    if (json_is_integer(v))
        return true;
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    return isfinite(d) && floor(d) == d;
}

static bool type_matches(const char *name, const json_t *v)
{
    switch (type_index(name)) {
    case 0:
        return json_is_object(v);
    case 1:
        return json_is_array(v);
    case 2:
        return json_is_string(v);
    case 3:
        return json_is_number(v);
    case 4:
        return is_integral(v);
    case 5:
        return json_is_boolean(v);
    case 6:
        return json_is_null(v);
    }
    return false;
}

/* Compares two numbers exactly when both are integers: <0, 0, >0. */
static int number_compare(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    double x = json_number_value(a), y = json_number_value(b);
    return (x > y) - (x < y);
}

/* JSON equality where 1 and 1.0 are the same number. */
static bool values_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return number_compare(a, b) == 0;
    return json_equal((json_t *)a, (json_t *)b);
}

static size_t utf8_length(const char *s, size_t bytes)
{
    size_t n = 0;
    for (size_t i = 0; i < bytes; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* ---- patterns ----------------------------------------------------------- */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

struct regex_entry {
    char *pattern;
    regex_t compiled;
    bool supported;
};
static struct regex_entry regex_cache[REGEX_CACHE_MAX];
static size_t regex_cache_len;

/* Translates one ECMA character class starting after '['; *pos is left after
 * the closing ']'. Returns 0, or -1 when the class uses something POSIX
 * brackets cannot say. */
static int translate_class(const char *p, size_t *pos, struct buf *out)
{
    size_t i = *pos;
    bool negated = false, rbracket = false, hyphen = false, caret = false;
    struct buf body;
    int rc = -1;
    buf_init(&body, 0);
    if (p[i] == '^') {
        negated = true;
        i++;
    }
    if (p[i] == ']')
        goto out; /* [] and [^] mean nothing / anything in ECMA */
    for (bool first = true; p[i] != ']'; first = false, i++) {
        char c = p[i];
        if (c == '\0')
            goto out;
        if (c == '\\') {
            char e = p[++i];
            if (e == 'd')
                buf_append_str(&body, "0-9");
            else if (e == 'w')
                buf_append_str(&body, "A-Za-z0-9_");
            else if (e == 's')
                buf_append_str(&body, "[:space:]");
            else if (e == 'n' || e == 't' || e == 'r')
                buf_append_char(&body, e == 'n' ? '\n' : e == 't' ? '\t' : '\r');
            else if (e == ']')
                rbracket = true;
            else if (e == '-')
                hyphen = true;
            else if (e == '^')
                caret = true;
            else if (e != '\0' && ispunct((unsigned char)e))
                buf_append_char(&body, e);
            else
                goto out;
        } else if (c == '-' && (first || p[i + 1] == ']')) {
            hyphen = true;
        } else if (c == '^') {
            caret = true;
        } else if (c == '[' && (p[i + 1] == ':' || p[i + 1] == '.' || p[i + 1] == '=')) {
            goto out;
        } else {
            buf_append_char(&body, c);
        }
    }
    if (!negated && !rbracket && body.len == 0 && caret && !hyphen) {
        buf_append_str(out, "\\^");
    } else {
        buf_append_char(out, '[');
        if (negated)
            buf_append_char(out, '^');
        if (rbracket)
            buf_append_char(out, ']');
        if (!negated && !rbracket && body.len == 0 && caret) {
            buf_append_str(out, "-^"); /* '^' may not come first */
            hyphen = false;
            caret = false;
        }
        buf_append(out, buf_str(&body), body.len);
        if (caret)
            buf_append_char(out, '^');
        if (hyphen)
            buf_append_char(out, '-');
        buf_append_char(out, ']');
    }
    *pos = i + 1;
    rc = 0;
out:
    buf_free(&body);
    return rc;
}

/* ECMA-262 → POSIX ERE for the subset tool schemas use; -1 if unsupported. */
static int translate_pattern(const char *p, struct buf *out)
{
    bool after_quantifier = false;
    for (size_t i = 0; p[i];) {
        char c = p[i];
        bool quantifier = false;
        if (c == '?' && after_quantifier) {
            i++; /* lazy quantifier: same language for a yes/no match */
            after_quantifier = false;
            continue;
        }
        if (c == '\\') {
            char e = p[i + 1];
            static const char *const classes[] = {"d[0-9]",        "D[^0-9]",
                                                  "w[A-Za-z0-9_]", "W[^A-Za-z0-9_]",
                                                  "s[[:space:]]",  "S[^[:space:]]"};
            const char *cls = NULL;
            for (size_t k = 0; k < 6 && e; k++)
                if (classes[k][0] == e)
                    cls = classes[k] + 1;
            if (cls)
                buf_append_str(out, cls);
            else if (e == 'n' || e == 't' || e == 'r')
                buf_append_char(out, e == 'n' ? '\n' : e == 't' ? '\t' : '\r');
            else if (e != '\0' && strchr(".[]()*+?{}|^$\\", e))
                buf_printf(out, "\\%c", e);
            else if (e != '\0' && ispunct((unsigned char)e))
                buf_append_char(out, e);
            else
                return -1;
            i += 2;
        } else if (c == '[') {
            i++;
            if (translate_class(p, &i, out) < 0)
                return -1;
        } else if (c == '(' && p[i + 1] == '?') {
            if (p[i + 2] != ':')
                return -1; /* lookaround, named groups, flags */
            buf_append_char(out, '(');
            i += 3;
        } else {
            quantifier = c == '*' || c == '+' || c == '?' || c == '}';
            buf_append_char(out, c);
            i++;
        }
        after_quantifier = quantifier;
    }
    return 0;
}

/* Compiles pattern into *entry; entry->supported says whether it is enforced. */
static void regex_compile(const char *pattern, struct regex_entry *entry)
{
    struct buf ere;
    buf_init(&ere, 0);
    entry->pattern = xstrdup(pattern);
    entry->supported = translate_pattern(pattern, &ere) == 0 &&
                       regcomp(&entry->compiled, buf_str(&ere), REG_EXTENDED | REG_NOSUB) == 0;
    buf_free(&ere);
}

static void regex_entry_free(struct regex_entry *entry)
{
    if (entry->supported)
        regfree(&entry->compiled);
    free(entry->pattern);
    memset(entry, 0, sizeof *entry);
}

/* 1 when text matches pattern, 0 when not, -1 when the pattern is not
 * enforced. */
static int pattern_match(const char *pattern, const char *text)
{
    struct regex_entry *entry = NULL, scratch = {0};
    int result = -1;
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < regex_cache_len && !entry; i++)
        if (strcmp(regex_cache[i].pattern, pattern) == 0)
            entry = &regex_cache[i];
    if (!entry && regex_cache_len < REGEX_CACHE_MAX) {
        entry = &regex_cache[regex_cache_len++];
        regex_compile(pattern, entry);
    }
    pthread_mutex_unlock(&cache_lock);
    if (!entry) {
        entry = &scratch; /* cache full: compile for this one use */
        regex_compile(pattern, entry);
    }
    if (entry->supported)
        result = regexec(&entry->compiled, text, 0, NULL, 0) == 0;
    if (entry == &scratch)
        regex_entry_free(&scratch);
    return result;
}

/* ---- validation --------------------------------------------------------- */

struct validation {
    struct buf *out;
    int n_errors;
    struct path path;
};

/* Records one violation. at_value: the sentence is about the value at the
 * path ("x: must be …", "arguments: …" at the root); otherwise it is about
 * the object at the path ("x: missing required property …", or no prefix at
 * the root). */
static void report(struct validation *v, bool at_value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(struct validation *v, bool at_value, const char *fmt, ...)
{
    va_list ap;
    if (v->n_errors++ >= SCHEMA_MAX_ERRORS)
        return;
    if (v->out->len)
        buf_append_str(v->out, SCHEMA_ERROR_SEPARATOR);
    if (v->path.len)
        buf_printf(v->out, "%s: ", v->path.text);
    else if (at_value)
        buf_append_str(v->out, "arguments: ");
    va_start(ap, fmt);
    buf_vprintf(v->out, fmt, ap);
    va_end(ap);
}

static void validate_node(struct validation *v, const json_t *schema, const json_t *value);

/* Checks "type"; false (after reporting) when the value has the wrong type. */
static bool validate_type(struct validation *v, const json_t *schema, const json_t *value)
{
    const json_t *type = json_object_get(schema, "type");
    char got[SCHEMA_GOT_MAX + 16];
    struct buf want;
    size_t i;
    const json_t *t;
    if (!type)
        return true;
    if (json_is_string(type) && type_matches(json_string_value(type), value))
        return true;
    json_array_foreach(type, i, t)
    {
        if (type_matches(json_string_value(t), value))
            return true;
    }
    buf_init(&want, 0);
    if (json_is_string(type)) {
        buf_append_str(&want, TYPE_PHRASES[type_index(json_string_value(type))]);
    } else {
        json_array_foreach(type, i, t)
        {
            if (i)
                buf_append_str(&want, i + 1 == json_array_size(type) ? " or " : ", ");
            buf_append_str(&want, TYPE_PHRASES[type_index(json_string_value(t))]);
        }
    }
    describe_value(value, got, sizeof got);
    report(v, true, "must be %s (got %s)", buf_str(&want), got);
    buf_free(&want);
    return false;
}

static void validate_enum(struct validation *v, const json_t *schema, const json_t *value)
{
    const json_t *choices = json_object_get(schema, "enum");
    const json_t *constant = json_object_get(schema, "const");
    char got[SCHEMA_GOT_MAX + 16], one[SCHEMA_GOT_MAX + 16];
    size_t i;
    const json_t *c;
    describe_value(value, got, sizeof got);
    if (constant && !values_equal(constant, value)) {
        describe_value(constant, one, sizeof one);
        report(v, true, "must be %s (got %s)", one, got);
    }
    if (!choices)
        return;
    json_array_foreach(choices, i, c)
    {
        if (values_equal(c, value))
            return;
    }
    struct buf list;
    buf_init(&list, 0);
    json_array_foreach(choices, i, c)
    {
        if (i == SCHEMA_ENUM_SHOWN) {
            buf_printf(&list, ", \xe2\x80\xa6 (%zu in all)", json_array_size(choices));
            break;
        }
        describe_value(c, one, sizeof one);
        buf_printf(&list, "%s%s", i ? ", " : "", one);
    }
    report(v, true, "must be one of %s (got %s)", buf_str(&list), got);
    buf_free(&list);
}

/* One numeric bound; exclusive may be a boolean (draft 4) or absent. */
static void check_bound(struct validation *v, const json_t *value, const json_t *limit, bool lower,
                        bool exclusive)
{
    char want[48], got[48];
    int cmp;
    if (!json_is_number(limit))
        return;
    cmp = number_compare(value, limit);
    if (lower ? (exclusive ? cmp > 0 : cmp >= 0) : (exclusive ? cmp < 0 : cmp <= 0))
        return;
    format_number(limit, want, sizeof want);
    format_number(value, got, sizeof got);
    report(v, true, "must be %s %s (got %s)",
           lower ? (exclusive ? "greater than" : "at least")
                 : (exclusive ? "less than" : "at most"),
           want, got);
}

static void validate_number(struct validation *v, const json_t *schema, const json_t *value)
{
    const json_t *emin = json_object_get(schema, "exclusiveMinimum");
    const json_t *emax = json_object_get(schema, "exclusiveMaximum");
    check_bound(v, value, json_object_get(schema, "minimum"), true, json_is_true(emin));
    check_bound(v, value, json_object_get(schema, "maximum"), false, json_is_true(emax));
    check_bound(v, value, emin, true, true);
    check_bound(v, value, emax, false, true);
}

static void validate_string(struct validation *v, const json_t *schema, const json_t *value)
{
    const char *s = json_string_value(value);
    size_t n = utf8_length(s, json_string_length(value));
    const json_t *min = json_object_get(schema, "minLength");
    const json_t *max = json_object_get(schema, "maxLength");
    const json_t *pattern = json_object_get(schema, "pattern");
    if (min && (json_int_t)n < json_integer_value(min))
        report(v, true, "must be at least %lld characters long (got %zu)",
               (long long)json_integer_value(min), n);
    if (max && (json_int_t)n > json_integer_value(max))
        report(v, true, "must be at most %lld characters long (got %zu)",
               (long long)json_integer_value(max), n);
    if (pattern && pattern_match(json_string_value(pattern), s) == 0) {
        char got[SCHEMA_GOT_MAX + 16];
        describe_value(value, got, sizeof got);
        report(v, true, "must match the pattern %s (got %s)", json_string_value(pattern), got);
    }
}

static void validate_array(struct validation *v, const json_t *schema, const json_t *value)
{
    const json_t *min = json_object_get(schema, "minItems");
    const json_t *max = json_object_get(schema, "maxItems");
    const json_t *items = json_object_get(schema, "items");
    size_t n = json_array_size(value), i;
    const json_t *item;
    if (min && (json_int_t)n < json_integer_value(min))
        report(v, true, "must have at least %lld item%s (got %zu)",
               (long long)json_integer_value(min), json_integer_value(min) == 1 ? "" : "s", n);
    if (max && (json_int_t)n > json_integer_value(max))
        report(v, true, "must have at most %lld item%s (got %zu)",
               (long long)json_integer_value(max), json_integer_value(max) == 1 ? "" : "s", n);
    if (json_is_true(json_object_get(schema, "uniqueItems"))) {
        for (size_t a = 1; a < n; a++)
            for (size_t b = 0; b < a; b++)
                if (values_equal(json_array_get(value, a), json_array_get(value, b))) {
                    report(v, true, "must not repeat items (item %zu repeats item %zu)", a, b);
                    a = n; /* one report is enough */
                    break;
                }
    }
    if (!json_is_object(items))
        return;
    json_array_foreach(value, i, item)
    {
        size_t old = path_push(&v->path, NULL, (long)i);
        validate_node(v, items, item);
        path_pop(&v->path, old);
    }
}

/* Lists the declared properties, for "unknown property" messages. */
static void allowed_list(const json_t *properties, struct buf *out)
{
    const char *key;
    const json_t *sub;
    size_t i = 0;
    json_object_foreach((json_t *)properties, key, sub)
    {
        buf_printf(out, "%s\"%s\"", i++ ? ", " : "", key);
    }
}

static void validate_object(struct validation *v, const json_t *schema, const json_t *value)
{
    const json_t *properties = json_object_get(schema, "properties");
    const json_t *required = json_object_get(schema, "required");
    const json_t *additional = json_object_get(schema, "additionalProperties");
    const char *key;
    const json_t *sub, *r;
    size_t i;
    json_array_foreach(required, i, r)
    {
        if (!json_object_get(value, json_string_value(r)))
            report(v, false, "missing required property \"%s\"", json_string_value(r));
    }
    json_object_foreach((json_t *)properties, key, sub)
    {
        const json_t *member = json_object_get(value, key);
        if (!member)
            continue;
        size_t old = path_push(&v->path, key, 0);
        validate_node(v, sub, member);
        path_pop(&v->path, old);
    }
    if (!additional || json_is_true(additional))
        return;
    json_object_foreach((json_t *)value, key, sub)
    {
        if (json_object_get(properties, key))
            continue;
        if (json_is_object(additional)) {
            size_t old = path_push(&v->path, key, 0);
            validate_node(v, additional, sub);
            path_pop(&v->path, old);
        } else if (json_object_size(properties)) {
            struct buf allowed;
            buf_init(&allowed, 0);
            allowed_list(properties, &allowed);
            report(v, false, "unknown property \"%s\" (allowed: %s)", key, buf_str(&allowed));
            buf_free(&allowed);
        } else {
            report(v, false, "unknown property \"%s\" (no properties are allowed)", key);
        }
    }
}

static void validate_node(struct validation *v, const json_t *schema, const json_t *value)
{
    if (json_is_false(schema)) {
        report(v, true, "is not allowed");
        return;
    }
    if (!json_is_object(schema) || !validate_type(v, schema, value))
        return;
    validate_enum(v, schema, value);
    if (json_is_number(value))
        validate_number(v, schema, value);
    else if (json_is_string(value))
        validate_string(v, schema, value);
    else if (json_is_array(value))
        validate_array(v, schema, value);
    else if (json_is_object(value))
        validate_object(v, schema, value);
}

int schema_validate(const json_t *schema, const json_t *instance, struct buf *errors)
{
    struct validation v = {.out = errors};
    validate_node(&v, schema, instance);
    if (v.n_errors > SCHEMA_MAX_ERRORS)
        buf_printf(errors, "%sand %d more", SCHEMA_ERROR_SEPARATOR, v.n_errors - SCHEMA_MAX_ERRORS);
    return v.n_errors ? ERR_INVALID : 0;
}

/* ---- checking a schema -------------------------------------------------- */

static const char *const REFUSED_KEYWORDS[] = {
    "$ref",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "prefixItems",
    "contains",
    "patternProperties",
    "propertyNames",
    "dependencies",
    "dependentRequired",
    "dependentSchemas",
    "minProperties",
    "maxProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
};

struct check {
    struct path path;
    char *err;
    size_t errlen;
};

static int check_fail(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int check_fail(struct check *c, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(c->err, c->errlen, "%s%s", c->path.text, c->path.len ? ": " : "");
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < c->errlen)
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return ERR_INVALID;
}

static int check_node(struct check *c, const json_t *schema);

/* Runs check_node on schema[key] with the path extended by the key. */
static int check_child(struct check *c, const char *key, const char *name, const json_t *sub)
{
    size_t old = path_push(&c->path, key, 0);
    if (name)
        path_push(&c->path, name, 0);
    int rc = check_node(c, sub);
    path_pop(&c->path, old);
    return rc;
}

static int check_type(struct check *c, const json_t *type)
{
    size_t i;
    const json_t *t;
    if (json_is_string(type)) {
        if (type_index(json_string_value(type)) < 0)
            return check_fail(c, "unknown type \"%s\"", json_string_value(type));
        return 0;
    }
    if (!json_is_array(type) || json_array_size(type) == 0)
        return check_fail(c, "\"type\" must be a type name or a non-empty array of them");
    json_array_foreach(type, i, t)
    {
        if (!json_is_string(t) || type_index(json_string_value(t)) < 0)
            return check_fail(c, "\"type\" lists an unknown type");
    }
    return 0;
}

static int check_counts(struct check *c, const json_t *schema, const char *lo, const char *hi)
{
    const json_t *min = json_object_get(schema, lo), *max = json_object_get(schema, hi);
    if (min && (!json_is_integer(min) || json_integer_value(min) < 0))
        return check_fail(c, "\"%s\" must be a non-negative integer", lo);
    if (max && (!json_is_integer(max) || json_integer_value(max) < 0))
        return check_fail(c, "\"%s\" must be a non-negative integer", hi);
    if (min && max && json_integer_value(min) > json_integer_value(max))
        return check_fail(c, "\"%s\" is greater than \"%s\"", lo, hi);
    return 0;
}

static int check_numbers(struct check *c, const json_t *schema)
{
    static const char *const keys[] = {"minimum", "maximum", "exclusiveMinimum",
                                       "exclusiveMaximum"};
    for (size_t i = 0; i < 4; i++) {
        const json_t *k = json_object_get(schema, keys[i]);
        if (k && !json_is_number(k) && !(i >= 2 && json_is_boolean(k)))
            return check_fail(c, "\"%s\" must be a number", keys[i]);
    }
    int rc = check_counts(c, schema, "minLength", "maxLength");
    return rc ? rc : check_counts(c, schema, "minItems", "maxItems");
}

static int check_object_keywords(struct check *c, const json_t *schema)
{
    const json_t *properties = json_object_get(schema, "properties");
    const json_t *required = json_object_get(schema, "required");
    const json_t *additional = json_object_get(schema, "additionalProperties");
    const char *key;
    const json_t *sub;
    size_t i;
    int rc;
    if (properties && !json_is_object(properties))
        return check_fail(c, "\"properties\" must be an object");
    json_object_foreach((json_t *)properties, key, sub)
    {
        if ((rc = check_child(c, "properties", key, sub)))
            return rc;
    }
    if (required && !json_is_array(required))
        return check_fail(c, "\"required\" must be an array of property names");
    json_array_foreach(required, i, sub)
    {
        if (!json_is_string(sub))
            return check_fail(c, "\"required\" must be an array of property names");
        if (json_is_false(additional) && !json_object_get(properties, json_string_value(sub)))
            return check_fail(c, "required property \"%s\" is not among the properties",
                              json_string_value(sub));
    }
    if (additional && !json_is_boolean(additional))
        return check_child(c, "additionalProperties", NULL, additional);
    return 0;
}

static int check_node(struct check *c, const json_t *schema)
{
    const json_t *k;
    int rc;
    if (!json_is_object(schema))
        return check_fail(c, "a schema must be a JSON object");
    for (size_t i = 0; i < sizeof REFUSED_KEYWORDS / sizeof REFUSED_KEYWORDS[0]; i++)
        if (json_object_get(schema, REFUSED_KEYWORDS[i]))
            return check_fail(c, "\"%s\" is not supported by the tool argument validator",
                              REFUSED_KEYWORDS[i]);
    if ((k = json_object_get(schema, "type")) && (rc = check_type(c, k)))
        return rc;
    if ((k = json_object_get(schema, "enum")) && (!json_is_array(k) || !json_array_size(k)))
        return check_fail(c, "\"enum\" must be a non-empty array");
    if ((k = json_object_get(schema, "pattern")) && !json_is_string(k))
        return check_fail(c, "\"pattern\" must be a string");
    if ((k = json_object_get(schema, "uniqueItems")) && !json_is_boolean(k))
        return check_fail(c, "\"uniqueItems\" must be true or false");
    if ((rc = check_numbers(c, schema)))
        return rc;
    if ((k = json_object_get(schema, "items"))) {
        if (json_is_array(k))
            return check_fail(c, "\"items\" must be one schema (tuples are not supported)");
        if ((rc = check_child(c, "items", NULL, k)))
            return rc;
    }
    return check_object_keywords(c, schema);
}

int schema_check(const json_t *schema, char *err, size_t errlen)
{
    struct check c = {.err = err, .errlen = errlen};
    const json_t *type = json_object_get(schema, "type");
    if (!json_is_object(schema))
        return check_fail(&c, "the parameters schema must be a JSON object");
    if (!json_is_string(type) || strcmp(json_string_value(type), "object") != 0)
        return check_fail(&c, "the parameters schema must have \"type\": \"object\"");
    return check_node(&c, schema);
}

/* ---- the cache ---------------------------------------------------------- */

struct cache_entry {
    const char *key; /* the caller's pointer */
    char *text;      /* our copy, to detect a reused pointer */
    json_t *schema;
};
static struct cache_entry schema_cache[SCHEMA_CACHE_SLOTS];
static size_t schema_cache_len;

static size_t cache_slot(const char *key)
{
    uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (SCHEMA_CACHE_SLOTS - 1);
}

/* A new reference to text parsed and checked, or NULL with err. */
static json_t *schema_parse(const char *text, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *schema = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!schema) {
        snprintf(err, errlen, "the parameters schema is not valid JSON: %s (line %d, column %d)",
                 jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (schema_check(schema, err, errlen) != 0) {
        json_decref(schema);
        return NULL;
    }
    return schema;
}

json_t *schema_cache_get(const char *text, char *err, size_t errlen)
{
    json_t *schema = NULL;
    size_t slot = cache_slot(text);
    pthread_mutex_lock(&cache_lock);
    for (size_t probes = 0; probes < SCHEMA_CACHE_SLOTS; probes++) {
        struct cache_entry *e = &schema_cache[slot];
        if (e->key == text && strcmp(e->text, text) == 0) {
            schema = json_incref(e->schema);
            goto out;
        }
        if (e->key == text || !e->key) {
            /* A new text, or a reused pointer whose text changed. */
            if (!(schema = schema_parse(text, err, errlen)))
                goto out;
            if (!e->key && schema_cache_len >= SCHEMA_CACHE_MAX)
                goto out; /* full: the caller gets an uncached schema */
            if (e->key) {
                free(e->text);
                json_decref(e->schema);
            } else {
                schema_cache_len++;
            }
            e->key = text;
            e->text = xstrdup(text);
            e->schema = json_incref(schema);
            goto out;
        }
        slot = (slot + 1) & (SCHEMA_CACHE_SLOTS - 1);
    }
    schema = schema_parse(text, err, errlen);
out:
    pthread_mutex_unlock(&cache_lock);
    return schema;
}

void schema_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < SCHEMA_CACHE_SLOTS; i++) {
        free(schema_cache[i].text);
        json_decref(schema_cache[i].schema);
        memset(&schema_cache[i], 0, sizeof schema_cache[i]);
    }
    schema_cache_len = 0;
    for (size_t i = 0; i < regex_cache_len; i++)
        regex_entry_free(&regex_cache[i]);
    regex_cache_len = 0;
    pthread_mutex_unlock(&cache_lock);
}
