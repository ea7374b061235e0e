/* local_model — the embedded model backend. See local_model.h.
 *
 * One call = one decision, taken from the request alone (the conversation,
 * the acting agent's name and the tools on offer), so the model keeps no
 * state between calls and any process can continue any conversation:
 *
 *   last message          agent offers             decision
 *   ------------------    ----------------------   --------------------------------
 *   tool result (domain)  —                        answer from the result
 *   user / handoff result handoffs, intent elsewhere  transfer_to_<intent>
 *   user / handoff result domain tools             call the best-matching tool (a
 *                                                  specialist always acts: it was
 *                                                  routed here), or ask for what
 *                                                  is missing
 *   user                  only handoffs (Triage)   greeting / thanks / help reply,
 *                                                  or a clarifying question */
#include "llm/local/local_model.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xalloc.h"
#include "llm/local/entities.h"
#include "llm/local/extract.h"

#define LOCAL_MAX_REPLY   16384
#define LOCAL_HANDOFF_PFX "transfer_to_"
/* An intent this sure is a new request even right after another specialist spoke. */
#define LOCAL_CLEAR_INTENT 0.75

struct local_model {
    const struct intent_model *intents;
    char *assistant_name;
};

/* The agent name as an intent label: "Sales Coach" → "sales_coach" (written to out). */
static void label_of(const char *agent_name, char *out, size_t outlen)
{
    size_t n = 0;
    bool gap = false;
    for (const char *p = agent_name; *p && n + 1 < outlen; p++) {
        if (isalnum((unsigned char)*p)) {
            if (gap && n > 0 && n + 2 < outlen)
                out[n++] = '_';
            out[n++] = (char)tolower((unsigned char)*p);
            gap = false;
        } else {
            gap = true;
        }
    }
    out[n] = '\0';
}

/* ---- looking at the request ------------------------------------------- */

static bool is_handoff(const char *tool_name)
{
    return strncmp(tool_name, LOCAL_HANDOFF_PFX, strlen(LOCAL_HANDOFF_PFX)) == 0;
}

static const struct llm_tool_spec *find_tool(const struct llm_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_tools; i++)
        if (strcmp(req->tools[i].name, name) == 0)
            return &req->tools[i];
    return NULL;
}

/* The handoff tool leading to the agent with intent label, if offered. */
static const struct llm_tool_spec *handoff_to(const struct llm_request *req, const char *label)
{
    char name[128];
    snprintf(name, sizeof name, LOCAL_HANDOFF_PFX "%s", label);
    return find_tool(req, name);
}

/* Index of the last user message, or -1. */
static long last_user_index(const struct llm_request *req)
{
    for (size_t i = req->n_messages; i-- > 0;)
        if (req->messages[i].role == LLM_ROLE_USER)
            return (long)i;
    return -1;
}

/* The tool call a tool message answers (borrowed), or NULL. */
static const struct llm_tool_call *call_answered(const struct llm_request *req, size_t tool_idx)
{
    const char *id = req->messages[tool_idx].tool_call_id;
    for (size_t i = tool_idx; id && i-- > 0;) {
        const struct llm_message *m = &req->messages[i];
        for (size_t j = 0; j < m->n_tool_calls; j++)
            if (m->tool_calls[j].id && strcmp(m->tool_calls[j].id, id) == 0)
                return &m->tool_calls[j];
    }
    return NULL;
}

/* The agent of the last assistant text before message index `before`, or NULL. */
static const char *last_speaker(const struct llm_request *req, long before)
{
    for (long i = before - 1; i >= 0; i--) {
        const struct llm_message *m = &req->messages[i];
        if (m->role == LLM_ROLE_ASSISTANT && m->content && m->n_tool_calls == 0)
            return m->agent;
    }
    return NULL;
}

static bool is_small_talk(const char *label)
{
    return strcmp(label, "greeting") == 0 || strcmp(label, "thanks") == 0 ||
           strcmp(label, "help") == 0;
}

/* The probability of label among the top predictions, 0 when not among them. */
static double probability_of(const struct intent_prediction *pred, const char *label)
{
    for (size_t i = 0; i < pred->n_top; i++)
        if (strcmp(pred->top[i].label, label) == 0)
            return pred->top[i].probability;
    return 0;
}

/* ---- producing a response ----------------------------------------------- */

static void respond_text(const struct llm_request *req, llm_text_cb *on_text, void *user,
                         struct llm_response *out, char *text)
{
    if (req->stream && on_text)
        llm_stream_words(text, on_text, user);
    out->content = text;
    out->finish_reason = xstrdup("stop");
}

static void respond_call(const struct llm_request *req, struct llm_response *out, const char *name,
                         char *arguments)
{
    out->n_tool_calls = 1;
    out->tool_calls = xcalloc(1, sizeof *out->tool_calls);
    out->tool_calls[0].id = xasprintf("call_local_%zu_%s", req->n_messages, name);
    out->tool_calls[0].name = xstrdup(name);
    out->tool_calls[0].arguments = arguments;
    out->finish_reason = xstrdup("tool_calls");
}

/* ---- answers from tool results --------------------------------------- */

static void render_fields(struct buf *b, const json_t *obj)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (json_is_string(v))
            buf_printf(b, "\n- %s: %s", key, json_string_value(v));
        else if (json_is_number(v))
            buf_printf(b, "\n- %s: %g", key, json_number_value(v));
        else if (json_is_boolean(v))
            buf_printf(b, "\n- %s: %s", key, json_is_true(v) ? "yes" : "no");
    }
}

static char *answer_from_result(const char *result_text)
{
    json_error_t jerr;
    json_t *r = json_loads(result_text ? result_text : "", JSON_DECODE_ANY, &jerr);
    struct buf b;
    buf_init(&b, LOCAL_MAX_REPLY);
    const char *summary = json_string_value(json_object_get(r, "summary"));
    if (!summary)
        summary = json_string_value(json_object_get(r, "answer"));
    const char *error = json_string_value(json_object_get(r, "error"));
    if (error)
        buf_printf(&b, "I couldn't finish that: %s", error);
    else if (summary)
        buf_append_str(&b, summary);
    else if (json_is_string(r))
        buf_append_str(&b, json_string_value(r));
    else if (json_is_object(r)) {
        buf_append_str(&b, "Done. Here's what I have:");
        render_fields(&b, r);
    } else
        buf_append_str(&b, "Done.");
    json_decref(r);
    return buf_steal(&b);
}

/* ---- routing ----------------------------------------------------------- */

/* A phrase for a handoff tool: its description without the runner's opening
 * "Transfer the conversation to X." sentence, or the agent name. */
static const char *handoff_phrase(const struct llm_tool_spec *t)
{
    const char *d = t->description;
    if (!d || !*d)
        return t->name + strlen(LOCAL_HANDOFF_PFX);
    if (strncmp(d, "Transfer", 8) == 0) {
        const char *stop = strstr(d, ". ");
        if (stop && stop[2])
            return stop + 2;
    }
    return d;
}

static void append_lowered_first(struct buf *b, const char *s)
{
    /* Descriptions read "Prices jobs …"; inside a sentence, lower-case the first letter
     * and drop the final period. */
    size_t n = strlen(s);
    while (n && (s[n - 1] == '.' || isspace((unsigned char)s[n - 1])))
        n--;
    if (!n)
        return;
    buf_append_char(b, (char)tolower((unsigned char)s[0]));
    buf_append(b, s + 1, n - 1);
}

static char *capabilities(const struct llm_request *req, const char *opening)
{
    struct buf b;
    buf_init(&b, LOCAL_MAX_REPLY);
    buf_append_str(&b, opening);
    size_t shown = 0;
    for (size_t i = 0; i < req->n_tools; i++) {
        if (!is_handoff(req->tools[i].name))
            continue;
        buf_append_str(&b, shown++ ? "\n- " : " I can help with:\n- ");
        append_lowered_first(&b, handoff_phrase(&req->tools[i]));
    }
    buf_append_str(&b, shown ? "\nWhat do you need?" : " What do you need?");
    return buf_steal(&b);
}

static char *clarifying_question(const struct llm_request *req,
                                 const struct intent_prediction *pred)
{
    struct buf b;
    buf_init(&b, LOCAL_MAX_REPLY);
    buf_append_str(&b, "I want to get this right — do you need ");
    size_t shown = 0;
    for (size_t i = 0; i < pred->n_top && shown < 2; i++) {
        const struct llm_tool_spec *t = handoff_to(req, pred->top[i].label);
        if (!t)
            continue;
        if (shown++)
            buf_append_str(&b, ", or ");
        append_lowered_first(&b, handoff_phrase(t));
    }
    if (!shown) {
        buf_free(&b);
        return xstrdup("I'm not sure what you need. Can you say it another way — for example "
                       "a sales question, a price for a job, or a customer to look up?");
    }
    buf_append_str(&b, "?");
    return buf_steal(&b);
}

static int small_talk(const struct local_model *lm, const struct llm_request *req,
                      const struct intent_prediction *pred, llm_text_cb *on_text, void *user,
                      struct llm_response *out)
{
    char *text;
    if (pred->confident && strcmp(pred->label, "greeting") == 0) {
        char *opening = xasprintf("Hi! %s here.", lm->assistant_name);
        text = capabilities(req, opening);
        free(opening);
    } else if (pred->confident && strcmp(pred->label, "thanks") == 0) {
        text = xstrdup("Anytime. Go get that signature!");
    } else if (pred->confident && strcmp(pred->label, "help") == 0) {
        char *opening =
            xasprintf("I'm %s, your sales director in your pocket.", lm->assistant_name);
        text = capabilities(req, opening);
        free(opening);
    } else if (pred->confident && pred->margin > 0.3) {
        char human[64];
        snprintf(human, sizeof human, "%s", pred->label);
        for (char *p = human; *p; p++)
            if (*p == '_')
                *p = ' ';
        char *opening = xasprintf("That sounds like %s work, which I can't do here yet.", human);
        text = capabilities(req, opening);
        free(opening);
    } else {
        text = clarifying_question(req, pred);
    }
    respond_text(req, on_text, user, out, text);
    return 0;
}

/* ---- tools ------------------------------------------------------------- */

static bool is_stop_word(const char *w)
{
    static const char *const stop[] = {"the", "and", "for", "you",  "are",  "can",  "how",  "with",
                                       "job", "its", "was", "what", "this", "that", "from", "has"};
    for (size_t i = 0; i < sizeof stop / sizeof stop[0]; i++)
        if (strcmp(w, stop[i]) == 0)
            return true;
    return false;
}

/* Lower-case words of s, for overlap scoring. */
static size_t word_overlap(const char *text, const char *desc)
{
    size_t score = 0;
    char word[64];
    const char *p = desc;
    while (*p) {
        size_t n = 0;
        while (*p && !isalnum((unsigned char)*p))
            p++;
        while (*p && isalnum((unsigned char)*p)) {
            if (n + 1 < sizeof word)
                word[n++] = (char)tolower((unsigned char)*p);
            p++;
        }
        word[n] = '\0';
        if (n < 3 || is_stop_word(word))
            continue;
        /* Case-insensitive whole-ish word search in text. */
        for (const char *t = text; *t; t++) {
            size_t k = 0;
            while (k < n && t[k] && tolower((unsigned char)t[k]) == word[k])
                k++;
            if (k == n) {
                score++;
                break;
            }
        }
    }
    return score;
}

/* The last tool (not a handoff) this agent called in the conversation, if offered. */
static const struct llm_tool_spec *last_tool_of(const struct llm_request *req)
{
    for (size_t i = req->n_messages; i-- > 0;) {
        const struct llm_message *m = &req->messages[i];
        if (m->role != LLM_ROLE_ASSISTANT || !m->agent || !req->agent ||
            strcmp(m->agent, req->agent) != 0)
            continue;
        for (size_t j = m->n_tool_calls; j-- > 0;)
            if (m->tool_calls[j].name && !is_handoff(m->tool_calls[j].name))
                return find_tool(req, m->tool_calls[j].name);
    }
    return NULL;
}

/* True when the last tool result in the conversation reports a form in
 * progress: a "state" being filled, or a write awaiting confirmation. */
static bool last_result_is_form(const struct llm_request *req)
{
    for (size_t i = req->n_messages; i-- > 0;) {
        const struct llm_message *m = &req->messages[i];
        if (m->role != LLM_ROLE_TOOL)
            continue;
        const struct llm_tool_call *c = call_answered(req, i);
        if (!c || !c->name || is_handoff(c->name))
            continue;
        const char *t = m->content ? m->content : "";
        return strstr(t, "\"state\":") || strstr(t, "\"awaiting_confirmation\":true");
    }
    return false;
}

/* The tool for text: see the comment inside. */
static const struct llm_tool_spec *choose_tool(const struct llm_request *req, const char *text,
                                               bool answering)
{
    const struct llm_tool_spec *best = NULL;
    size_t best_score = 0;
    for (size_t i = 0; i < req->n_tools; i++) {
        const struct llm_tool_spec *t = &req->tools[i];
        if (is_handoff(t->name))
            continue;
        size_t score = word_overlap(text, t->name) * 2 + word_overlap(text, t->description);
        if (!best || score > best_score) {
            best = t;
            best_score = score;
        }
    }
    if (answering) {
        /* The rep is answering this agent's question. A form's question (the
         * tool reported a state being filled or awaiting confirmation) goes
         * back to that tool whatever words it shares with others; an open
         * question ("shorter, or shall I save it?") only when nothing else fits. */
        const struct llm_tool_spec *last = last_tool_of(req);
        if (last && (best_score == 0 || last_result_is_form(req)))
            return last;
    }
    return best;
}

/* The user texts relevant to tool: those after the last completed call of it,
 * whose arguments (new JSON, or NULL) are returned in *previous. */
static size_t user_texts_for(const struct llm_request *req, const char *tool, const char **texts,
                             size_t max, json_t **previous)
{
    size_t start = 0;
    *previous = NULL;
    for (size_t i = req->n_messages; i-- > 0;) {
        const struct llm_message *m = &req->messages[i];
        if (m->role != LLM_ROLE_TOOL)
            continue;
        const struct llm_tool_call *c = call_answered(req, i);
        if (c && c->name && strcmp(c->name, tool) == 0) {
            start = i + 1;
            if (!strstr(m->content ? m->content : "", "\"error\""))
                *previous = json_loads(c->arguments ? c->arguments : "", 0, NULL);
            break;
        }
    }
    size_t n = 0;
    for (size_t i = start; i < req->n_messages; i++)
        if (req->messages[i].role == LLM_ROLE_USER && req->messages[i].content) {
            if (n == max) {
                memmove(texts, texts + 1, (max - 1) * sizeof *texts);
                n--;
            }
            texts[n++] = req->messages[i].content;
        }
    return n;
}

/* base with overlay's members written over it, objects merged member by member. */
static void merge_into(json_t *base, const json_t *overlay)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)overlay, key, v)
    {
        json_t *old = json_object_get(base, key);
        if (json_is_object(old) && json_is_object(v))
            merge_into(old, v);
        else
            json_object_set(base, key, v);
    }
}

/* The value at a missing-path such as "roof.area_sqft" or "items[0].qty", or NULL. */
static const json_t *value_at(const json_t *root, const char *path)
{
    char part[EXTRACT_PATH_MAX];
    const json_t *v = root;
    while (v && *path) {
        size_t n = strcspn(path, ".[");
        if (n) {
            snprintf(part, sizeof part, "%.*s", (int)n, path);
            v = json_object_get(v, part);
            path += n;
        } else if (*path == '[') {
            v = json_array_get(v, strtoul(path + 1, NULL, 10));
            path += strcspn(path, "]");
            if (*path)
                path++;
        } else {
            path++;
        }
    }
    return v;
}

/* True when args names every top-level member that previous had: a request
 * restated in full, not a follow-up. */
static bool has_all_top_level(const json_t *args, const json_t *previous)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)previous, key, v)
    {
        if (!json_object_get(args, key))
            return false;
    }
    return true;
}

/* Drops from missing what merged already holds. */
static void drop_filled(json_t *missing, const json_t *merged)
{
    for (size_t i = json_array_size(missing); i-- > 0;) {
        const char *path = json_string_value(json_object_get(json_array_get(missing, i), "path"));
        if (path && value_at(merged, path))
            json_array_remove(missing, i);
    }
}

/* A string property the whole message should fill ("query", "question"). */
static const char *free_text_property(const json_t *schema)
{
    static const char *const names[] = {"query",   "question", "instruction",
                                        "request", "message",  "text"};
    const json_t *props = json_object_get(schema, "properties");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const json_t *p = json_object_get(props, names[i]);
        if (p && json_is_string(json_object_get(p, "type")) &&
            strcmp(json_string_value(json_object_get(p, "type")), "string") == 0)
            return names[i];
    }
    return NULL;
}

/* Nothing usable was said: name what the tool works from. */
static char *ask_for_anything(const json_t *schema)
{
    struct buf b;
    buf_init(&b, LOCAL_MAX_REPLY);
    buf_append_str(&b, "Sure. Tell me ");
    const char *key;
    const json_t *prop;
    size_t i = 0, n = json_object_size(json_object_get(schema, "properties"));
    json_object_foreach((json_t *)json_object_get(schema, "properties"), key, prop)
    {
        if (json_is_boolean(json_object_get(prop, "type")) ||
            (json_is_string(json_object_get(prop, "type")) &&
             strcmp(json_string_value(json_object_get(prop, "type")), "boolean") == 0)) {
            n--;
            continue;
        }
        char label[160];
        extract_label(prop, key, label, sizeof label);
        buf_printf(&b, "%s%s", i == 0 ? "" : (i + 1 == n ? " or " : ", "), label);
        i++;
    }
    buf_append_str(&b, ".");
    return buf_steal(&b);
}

static int call_tool(const struct llm_request *req, const struct llm_tool_spec *tool,
                     bool answering_question, llm_text_cb *on_text, void *user,
                     struct llm_response *out, char *err, size_t errlen)
{
    const json_t *schema = tool->parameters;
    const char *texts[EXTRACT_MAX_TEXTS];
    json_t *previous = NULL;
    size_t n = user_texts_for(req, tool->name, texts, EXTRACT_MAX_TEXTS, &previous);
    if (!schema || !n) {
        json_decref(previous);
        respond_call(req, out, tool->name, xstrdup("{}"));
        return 0;
    }
    const char *free_prop = free_text_property(schema);
    if (free_prop) {
        json_decref(previous);
        json_t *args = json_pack("{s:s}", free_prop, texts[n - 1]);
        respond_call(req, out, tool->name, json_dumps(args, JSON_COMPACT));
        json_decref(args);
        return 0;
    }
    /* What the previous question asked for: the gaps before the last answer. */
    json_t *prev_missing = NULL, *args = NULL, *missing = NULL;
    const char *expecting[EXTRACT_MAX_FIELDS];
    size_t n_expecting = 0;
    if (answering_question && n > 1 &&
        extract_arguments(schema, texts, n - 1, NULL, &args, &prev_missing, err, errlen) == 0) {
        for (size_t i = 0; i < json_array_size(prev_missing) && i < EXTRACT_MAX_FIELDS; i++)
            expecting[n_expecting++] =
                json_string_value(json_object_get(json_array_get(prev_missing, i), "path"));
        json_decref(args);
        args = NULL;
    }
    struct extract_options opt = {.expecting = expecting, .n_expecting = n_expecting};
    int rc = extract_arguments(schema, texts, n, &opt, &args, &missing, err, errlen);
    if (rc == 0 && previous && json_object_size(args) > 0 &&
        (json_array_size(missing) > 0 || !has_all_top_level(args, previous))) {
        /* A follow-up to the last call ("make it designer"): its arguments,
         * corrected by what was said since. */
        merge_into(previous, args);
        json_decref(args);
        args = json_incref(previous);
        drop_filled(missing, args);
    }
    if (rc == 0) {
        if (json_array_size(missing) > 0) {
            respond_text(req, on_text, user, out, extract_question(missing, NULL));
        } else if (json_object_size(args) == 0 &&
                   json_object_size(json_object_get(schema, "properties")) > 0) {
            respond_text(req, on_text, user, out, ask_for_anything(schema));
        } else {
            respond_call(req, out, tool->name, json_dumps(args, JSON_COMPACT));
        }
    }
    json_decref(prev_missing);
    json_decref(previous);
    json_decref(args);
    json_decref(missing);
    return rc;
}

/* ---- the decision ------------------------------------------------------ */

static int local_complete(void *impl, const struct llm_request *req, llm_text_cb *on_text,
                          void *user, struct llm_response *out, char *err, size_t errlen)
{
    struct local_model *lm = impl;
    if (req->n_messages == 0) {
        snprintf(err, errlen, "the local model was given an empty conversation");
        return ERR_INVALID;
    }
    out->model = xstrdup("local");
    const struct llm_message *last = &req->messages[req->n_messages - 1];
    const struct llm_tool_call *answered = NULL;
    if (last->role == LLM_ROLE_TOOL) {
        answered = call_answered(req, req->n_messages - 1);
        if (!answered || !answered->name || !is_handoff(answered->name)) {
            respond_text(req, on_text, user, out, answer_from_result(last->content));
            return 0;
        }
    }
    long u = last_user_index(req);
    if (u < 0) {
        respond_text(req, on_text, user, out, xstrdup("What can I do for you?"));
        return 0;
    }
    const char *text = req->messages[u].content ? req->messages[u].content : "";
    struct intent_prediction pred;
    if (intent_classify(lm->intents, text, &pred) != 0) {
        snprintf(err, errlen, "the local model could not read the message");
        return ERR_MODEL;
    }
    char own[64];
    label_of(req->agent ? req->agent : "", own, sizeof own);
    const struct llm_message *question = llm_messages_open_question(req->messages, (size_t)u);
    bool arrived = answered != NULL; /* just handed off to: act, don't bounce */

    if (!arrived) {
        /* An answer to a specialist's question goes back to it. */
        if (question && question->agent) {
            char asked_by[64];
            label_of(question->agent, asked_by, sizeof asked_by);
            const struct llm_tool_spec *back = handoff_to(req, asked_by);
            bool elsewhere = pred.confident && strcmp(pred.label, asked_by) != 0 &&
                             handoff_to(req, pred.label) && pred.margin > 0.5;
            if (back && strcmp(asked_by, own) != 0 && !elsewhere) {
                respond_call(req, out, back->name, xstrdup("{}"));
                return 0;
            }
            if (strcmp(asked_by, own) == 0 && !elsewhere)
                goto act;
        }
        /* Right after a specialist answered, a follow-up that could be for it
         * ("actually make it designer") continues that work — unless another
         * intent is clearly stronger or it is plainly small talk. */
        const char *previous = last_speaker(req, u);
        if (previous && !(pred.confident && is_small_talk(pred.label)) &&
            pred.probability < LOCAL_CLEAR_INTENT) {
            char label[64];
            label_of(previous, label, sizeof label);
            const struct llm_tool_spec *back = handoff_to(req, label);
            if (back && strcmp(label, own) != 0 && probability_of(&pred, label) >= 0.15) {
                respond_call(req, out, back->name, xstrdup("{}"));
                return 0;
            }
        }
        if (pred.confident && strcmp(pred.label, own) != 0) {
            const struct llm_tool_spec *h = handoff_to(req, pred.label);
            if (h) {
                respond_call(req, out, h->name, xstrdup("{}"));
                return 0;
            }
        }
        /* The best intent has no agent here ("primer video" before that
         * workflow exists): the runner-up takes it when it is a real contender. */
        if (pred.confident && !is_small_talk(pred.label) && !handoff_to(req, pred.label) &&
            pred.n_top > 1 && pred.top[1].probability >= 0.3 &&
            strcmp(pred.top[1].label, own) != 0 && handoff_to(req, pred.top[1].label)) {
            respond_call(req, out, handoff_to(req, pred.top[1].label)->name, xstrdup("{}"));
            return 0;
        }
    }
act:;
    bool answering =
        question && question->agent && strcmp(question->agent, req->agent ? req->agent : "") == 0;
    /* A yes or no to a confirmation question goes to the confirm tool, which
     * reads the rep's words itself. */
    if (answering && strstr(question->content, "yes/no") && find_tool(req, "confirm") &&
        entity_answer_of(text) != ENTITY_ANSWER_NONE) {
        respond_call(req, out, "confirm", xstrdup("{}"));
        return 0;
    }
    const struct llm_tool_spec *tool = choose_tool(req, text, answering);
    if (tool)
        return call_tool(req, tool, answering, on_text, user, out, err, errlen);
    return small_talk(lm, req, &pred, on_text, user, out);
}

static void local_destroy(void *impl)
{
    struct local_model *lm = impl;
    free(lm->assistant_name);
    free(lm);
}

static const struct llm_model_ops local_ops = {
    .name = "local",
    .complete = local_complete,
    .destroy = local_destroy,
};

struct llm_model *local_model_new(const struct local_model_options *options, char *err,
                                  size_t errlen)
{
    if (!options || !options->intents) {
        snprintf(err, errlen, "the local model needs a trained intent classifier");
        return NULL;
    }
    struct local_model *lm = xcalloc(1, sizeof *lm);
    lm->intents = options->intents;
    lm->assistant_name = xstrdup(options->assistant_name ? options->assistant_name : "Hard-E");
    struct llm_model *m = xmalloc(sizeof *m);
    m->ops = &local_ops;
    m->impl = lm;
    return m;
}
