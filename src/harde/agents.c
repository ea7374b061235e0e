/* agents — the definitions of Triage, Sales Coach and Pricing. See agents.h.
 *
 * Instructions are written once here, with the company persona filled in
 * from the app when the agents are built. The quote tool is the only way a
 * number reaches a rep: the model gathers inputs, quote_compute prices them,
 * and the tool's result carries a plain-text table the answer can quote. */
#include "harde/agents.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"
#include "harde/app.h"
#include "harde/price_book.h"
#include "harde/quote.h"
#include "harde/session.h"
#include "harde/state.h"
#include "harde/tools_crm.h"
#include "harde/tools_primer.h"
#include "harde/tools_script.h"
#include "harde/turn.h"
#include "kb/answer.h"
#include "kb/kb.h"

#define N_SPECIALISTS 5

struct harde_agents {
    struct agent triage;
    struct agent coach;
    struct agent pricing;
    struct agent crm;
    struct agent script;
    struct agent primer;
    const struct agent *triage_handoffs[N_SPECIALISTS];
    /* each specialist may hand off to the three others */
    const struct agent *specialist_handoffs[N_SPECIALISTS][N_SPECIALISTS - 1];
    struct agent_tool pricing_tools[2];
    struct agent_tool coach_tools[1];
    struct agent_tool crm_tools[CRM_TOOL_COUNT];
    struct agent_tool script_tools[SCRIPT_TOOL_COUNT];
    struct agent_tool primer_tools[PRIMER_TOOL_COUNT];
    char *triage_instructions;
    char *coach_instructions;
    char *pricing_instructions;
    char *crm_instructions;
    char *script_instructions;
    char *primer_instructions;
    char *quote_schema;
    char *new_client_schema;
    char *script_schema;
};

/* ---- the quote tool ---------------------------------------------------- */

static json_t *quote_tool(struct agent_context *ctx, json_t *args, char **error)
{
    const struct harde_turn_context *turn = ctx->user;
    json_t *quote = NULL, *errors = NULL;
    if (quote_compute(turn->app->book, args, &quote, &errors) != 0) {
        struct buf b;
        buf_init(&b, 0);
        buf_append_str(&b, "the request cannot be priced: ");
        for (size_t i = 0; i < json_array_size(errors); i++)
            buf_printf(&b, "%s%s", i ? "; " : "", json_string_value(json_array_get(errors, i)));
        json_decref(errors);
        *error = buf_steal(&b);
        return NULL;
    }
    char *text = quote_format_summary(quote);
    json_object_set_new(quote, "summary", json_string(text));
    free(text);
    return quote;
}

static json_t *monthly_payments_tool(struct agent_context *ctx, json_t *args, char **error)
{
    const struct harde_turn_context *turn = ctx->user;
    json_t *result =
        quote_financing(turn->app->book, json_number_value(json_object_get(args, "amount")), error);
    if (result) {
        char *text = quote_format_financing(result);
        json_object_set_new(result, "summary", json_string(text));
        free(text);
    }
    return result;
}

static const char MONTHLY_PAYMENTS_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"amount\":{\"type\":\"number\","
    "\"exclusiveMinimum\":0,\"description\":\"The amount financed, in dollars\"}},"
    "\"required\":[\"amount\"],\"additionalProperties\":false}";

/* ---- the playbook search tool ----------------------------------------- */

#define PLAYBOOK_HITS 4

static json_t *search_playbook_tool(struct agent_context *ctx, json_t *args, char **error)
{
    const struct harde_turn_context *turn = ctx->user;
    const char *query = json_string_value(json_object_get(args, "query"));
    struct kb_results hits = {0};
    char err[512];
    struct kb *kb = harde_app_kb(turn->app, err, sizeof err);
    if (!kb) {
        *error = xstrdup(err);
        return NULL;
    }
    if (kb_search(kb, query, PLAYBOOK_HITS, &hits, err, sizeof err) != 0) {
        *error = xstrdup(err);
        return NULL;
    }
    json_t *passages = json_array();
    for (size_t i = 0; i < hits.count; i++)
        json_array_append_new(passages,
                              json_pack("{s:s, s:s, s:s}", "source", hits.hits[i].source, "heading",
                                        hits.hits[i].heading, "text", hits.hits[i].text));
    char *answer = kb_answer_compose(query, &hits, NULL);
    json_t *result = json_pack("{s:o, s:s}", "passages", passages, "answer", answer);
    free(answer);
    kb_results_free(&hits);
    return result;
}

static const char SEARCH_PLAYBOOK_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\",\"minLength\":1,"
    "\"description\":\"What to look up in the company playbook\"}},\"required\":[\"query\"],"
    "\"additionalProperties\":false}";

/* An enum of names with the x-aliases map (labels and aliases per key). */
static void add_enum(json_t *prop, const char *key, const char *label, char *const *aliases,
                     size_t n_aliases, json_t *x_aliases)
{
    json_array_append_new(json_object_get(prop, "enum"), json_string(key));
    json_t *list = json_array();
    if (label)
        json_array_append_new(list, json_string(label));
    for (size_t i = 0; i < n_aliases; i++)
        json_array_append_new(list, json_string(aliases[i]));
    json_object_set_new(x_aliases, key, list);
}

static char *build_quote_schema(const struct price_book *book)
{
    json_t *material = json_pack("{s:s, s:s, s:[]}", "type", "string", "description",
                                 "Shingle or roofing material", "enum");
    json_t *m_alias = json_object();
    for (size_t i = 0; i < book->n_materials; i++) {
        const struct price_book_material *m = &book->materials[i];
        add_enum(material, m->key, m->label, m->aliases, m->n_aliases, m_alias);
    }
    json_object_set_new(material, "x-aliases", m_alias);
    json_t *style = json_pack("{s:s, s:s, s:[]}", "type", "string", "description",
                              "Roof style (default gable)", "enum");
    for (size_t i = 0; i < book->n_styles; i++)
        json_array_append_new(json_object_get(style, "enum"), json_string(book->styles[i].key));
    json_t *item_id =
        json_pack("{s:s, s:s, s:[]}", "type", "string", "description", "The add-on item", "enum");
    json_t *i_alias = json_object(), *i_units = json_object();
    for (size_t i = 0; i < book->n_items; i++) {
        const struct price_book_item *it = &book->items[i];
        add_enum(item_id, it->key, it->label, it->aliases, it->n_aliases, i_alias);
        json_object_set_new(i_units, it->key, json_string(it->unit));
    }
    json_object_set_new(item_id, "x-aliases", i_alias);
    json_object_set_new(item_id, "x-units", i_units); /* "20 squares of siding" → 20 */
    json_t *schema = json_pack(
        "{s:s, s:s, s:{s:{s:s, s:s, s:{s:{s:s, s:s, s:f, s:f}, s:o, s:{s:s, s:s, s:f, s:f},"
        " s:{s:s, s:s, s:i, s:i}, s:o}, s:[sss], s:b},"
        " s:{s:s, s:s, s:{s:s, s:{s:o, s:{s:s, s:s, s:f}}, s:[ss], s:b}},"
        " s:{s:s, s:s}}, s:b}",
        "type", "object", "description", "A quote request (docs/PRICING.md)", "properties", "roof",
        "type", "object", "description", "The roof to replace", "properties", "area_sqft", "type",
        "number", "description", "Roof area in square feet", "exclusiveMinimum", 0.0, "maximum",
        100000.0, "style", style, "pitch_rise", "type", "number", "description",
        "Pitch rise in inches per 12 inches of run (7 for a 7/12 roof)", "minimum", 0.0, "maximum",
        24.0, "layers", "type", "integer", "description",
        "Existing layers of shingles to tear off (default 1)", "minimum", 0, "maximum", 3,
        "material", material, "required", "area_sqft", "pitch_rise", "material",
        "additionalProperties", 0, "items", "type", "array", "description",
        "Add-on items such as gutters, skylights, siding, windows", "items", "type", "object",
        "properties", "id", item_id, "qty", "type", "number", "description",
        "Quantity in the item's unit (linear feet, each, squares)", "exclusiveMinimum", 0.0,
        "required", "id", "qty", "additionalProperties", 0, "permit", "type", "boolean",
        "description", "Include the building permit (default true)", "additionalProperties", 0);
    char *text = json_dumps(schema, JSON_COMPACT);
    json_decref(schema);
    return text;
}

/* ---- instructions ------------------------------------------------------ */

static char *persona(const struct harde_app *app)
{
    return xasprintf("You are Hard-E, the AI clone of %s, the Sales Director of %s, a "
                     "residential roofing, siding, gutters and windows contractor. You talk to "
                     "the company's sales reps, not to homeowners. Be direct, warm and practical, "
                     "like a seasoned sales director coaching a rep; keep answers short.",
                     app->director_name, app->company_name);
}

static void build_instructions(struct harde_agents *a, const struct harde_app *app)
{
    char *who = persona(app);
    a->triage_instructions = xasprintf(
        "%s\nYou are the router. Read the conversation and hand the request to the right "
        "specialist: sales questions (objections, the sales process, appointments, warranties, "
        "financing explained, storm damage and insurance, products) → transfer_to_sales_coach; "
        "prices, quotes, estimates, monthly payments, or answers to a pricing question Pricing "
        "asked → transfer_to_pricing; customers and jobs in the CRM (look-ups, stages, notes, "
        "new clients) or answers to the CRM's questions → transfer_to_crm; video scripts "
        "(drafting, revising, saving) → transfer_to_script; making or checking the primer video "
        "of a job → transfer_to_primer_video. Answer greetings, thanks and 'what can "
        "you do' yourself "
        "in one or two sentences. Never answer a sales or pricing question yourself.",
        who);
    a->coach_instructions = xasprintf(
        "%s\nYou are the Sales Coach. Answer sales questions with word tracks the rep can say "
        "out loud and the next step to take. Look the company's way of doing it up with "
        "search_playbook first, answer from the passages it returns, and end with the sources "
        "you used (\"Sources: file.md › Section\"). Never invent prices or numbers: for any "
        "price or payment, transfer_to_pricing.",
        who);
    a->pricing_instructions = xasprintf(
        "%s\nYou are Pricing. You price jobs only with the quote tool: never compute, estimate "
        "or round a price yourself. The roof needs its area in square feet, pitch rise (7 for "
        "7/12) and material; style defaults to gable, layers to 1, permit to true. If anything "
        "required is missing, ask for all of it in one short question. After the tool answers, "
        "give the total, the main lines, the Good/Better/Best options and the monthly payments "
        "exactly as the tool's figures say. For the monthly payment on an amount, use "
        "monthly_payments. For sales advice, transfer_to_sales_coach.",
        who);
    a->crm_instructions = xasprintf(
        "%s\nYou are the CRM agent. Look customers and jobs up with crm_lookup and answer with "
        "what it returns. Add notes with crm_add_note. For a new client, call new_client with "
        "every detail the rep gives (again with each answer or correction) and ask for what it "
        "says is missing, one question at a time. Stage moves and new clients are written only "
        "after the rep confirms the summary: when the rep answers a yes/no confirmation, call "
        "confirm (it reads the rep's own words). Never claim something was written unless a "
        "tool said so.",
        who);
    a->script_instructions = xasprintf(
        "%s\nYou are the Script agent. You write personalised 60–120 second video scripts for "
        "homeowners, in the rep's voice: start one with script_start (job id or customer name, "
        "kind, tone, key points), revise with script_revise (you may pass your own rewritten "
        "text), and save the final draft on the job with script_save when the rep is happy. "
        "Show the draft in full after each change.",
        who);
    a->primer_instructions = xasprintf(
        "%s\nYou are the Primer Video agent. When the rep asks for the primer video of a job, "
        "call primer_start (job id or customer name); to say whether it went out, call "
        "primer_status. Report what the tool says; the video is produced and emailed by a "
        "background worker.",
        who);
    free(who);
}

/* The CRM and Script agents see the workflow in progress in their instructions. */
static char *with_workflow(struct agent_context *ctx)
{
    const struct harde_turn_context *turn = ctx->user;
    char *pending = turn ? crm_tools_pending_text(turn->session) : NULL;
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, ctx->agent->instructions);
    if (pending)
        buf_printf(&b, "\n\nIn progress: %s", pending);
    else if (turn && turn->session->state) {
        buf_append_str(&b, "\n\nIn progress: ");
        state_summary(turn->session->state, &b);
    }
    free(pending);
    return buf_steal(&b);
}

struct harde_agents *harde_agents_new(const struct harde_app *app)
{
    struct harde_agents *a = xcalloc(1, sizeof *a);
    build_instructions(a, app);
    a->quote_schema = build_quote_schema(app->book);
    a->pricing_tools[0] = (struct agent_tool){
        .name = "quote",
        .description = "Price a job from the company's price book: the roof (area, style, "
                       "pitch, layers, material) and add-on items. Returns every line, the "
                       "total, Good/Better/Best options and monthly payments.",
        .parameters = a->quote_schema,
        .fn = quote_tool,
        .activity = "pricing the job",
    };
    a->pricing_tools[1] = (struct agent_tool){
        .name = "monthly_payments",
        .description = "Monthly payments on an amount under each of the company's financing "
                       "plans (monthly payment, financed amount, payment plans).",
        .parameters = MONTHLY_PAYMENTS_SCHEMA,
        .fn = monthly_payments_tool,
        .activity = "working out the payments",
    };
    a->coach_tools[0] = (struct agent_tool){
        .name = "search_playbook",
        .description = "Search the company sales playbook (objections, sales process, "
                       "warranties, financing, insurance, products) and return the best passages "
                       "with their sources.",
        .parameters = SEARCH_PLAYBOOK_SCHEMA,
        .fn = search_playbook_tool,
        .activity = "checking the playbook",
    };
    crm_tools_init(a->crm_tools, &a->new_client_schema);
    script_tools_init(a->script_tools, &a->script_schema);
    a->triage = (struct agent){
        .name = "Triage",
        .handoff_description = "Routes a rep's request to the right specialist.",
        .instructions = a->triage_instructions,
        .handoffs = a->triage_handoffs,
        .n_handoffs = N_SPECIALISTS,
        .model = app->triage_model,
        .settings = LLM_SETTINGS_DEFAULT,
    };
    a->coach = (struct agent){
        .name = "Sales Coach",
        .handoff_description = "Sales questions: objections, the sales process, warranties, "
                               "financing, insurance claims, products.",
        .instructions = a->coach_instructions,
        .tools = a->coach_tools,
        .n_tools = 1,
        .handoffs = a->specialist_handoffs[0],
        .n_handoffs = N_SPECIALISTS - 1,
        .model = app->specialist_model,
        .settings = LLM_SETTINGS_DEFAULT,
    };
    a->pricing = (struct agent){
        .name = "Pricing",
        .handoff_description = "Prices for jobs from the price book: quotes, options, monthly "
                               "payments.",
        .instructions = a->pricing_instructions,
        .tools = a->pricing_tools,
        .n_tools = 2,
        .handoffs = a->specialist_handoffs[1],
        .n_handoffs = N_SPECIALISTS - 1,
        .model = app->specialist_model,
        .settings = LLM_SETTINGS_DEFAULT,
    };
    a->crm = (struct agent){
        .name = "CRM",
        .handoff_description = "Customers and jobs in the CRM: look-ups, job stages, notes, "
                               "stage moves, new clients.",
        .instructions = a->crm_instructions,
        .dynamic_instructions = with_workflow,
        .tools = a->crm_tools,
        .n_tools = CRM_TOOL_COUNT,
        .handoffs = a->specialist_handoffs[2],
        .n_handoffs = N_SPECIALISTS - 1,
        .model = app->specialist_model,
        .settings = LLM_SETTINGS_DEFAULT,
    };
    a->script = (struct agent){
        .name = "Script",
        .handoff_description = "Personalised video scripts for a job: drafting, revising, "
                               "saving.",
        .instructions = a->script_instructions,
        .dynamic_instructions = with_workflow,
        .tools = a->script_tools,
        .n_tools = SCRIPT_TOOL_COUNT,
        .handoffs = a->specialist_handoffs[3],
        .n_handoffs = N_SPECIALISTS - 1,
        .model = app->specialist_model,
        .settings = LLM_SETTINGS_DEFAULT,
    };
    primer_tools_init(a->primer_tools);
    a->primer = (struct agent){
        .name = "Primer Video",
        .handoff_description = "The autonomous primer video of a job: make it, or check whether "
                               "it went out.",
        .instructions = a->primer_instructions,
        .tools = a->primer_tools,
        .n_tools = PRIMER_TOOL_COUNT,
        .handoffs = a->specialist_handoffs[4],
        .n_handoffs = N_SPECIALISTS - 1,
        .model = app->specialist_model,
        .settings = LLM_SETTINGS_DEFAULT,
    };
    const struct agent *specialists[N_SPECIALISTS] = {&a->coach, &a->pricing, &a->crm, &a->script,
                                                      &a->primer};
    for (size_t i = 0; i < N_SPECIALISTS; i++) {
        a->triage_handoffs[i] = specialists[i];
        for (size_t j = 0, k = 0; j < N_SPECIALISTS; j++)
            if (j != i)
                a->specialist_handoffs[i][k++] = specialists[j];
    }
    return a;
}

void harde_agents_free(struct harde_agents *a)
{
    if (!a)
        return;
    free(a->triage_instructions);
    free(a->coach_instructions);
    free(a->pricing_instructions);
    free(a->crm_instructions);
    free(a->script_instructions);
    free(a->primer_instructions);
    free(a->quote_schema);
    free(a->new_client_schema);
    free(a->script_schema);
    free(a);
}

const struct agent *harde_agents_triage(const struct harde_agents *a)
{
    return &a->triage;
}

const struct agent *harde_agents_find(const struct harde_agents *a, const char *name)
{
    const struct agent *all[] = {&a->triage, &a->coach,  &a->pricing,
                                 &a->crm,    &a->script, &a->primer};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

const char *harde_agents_quote_schema(const struct harde_agents *a)
{
    return a->quote_schema;
}
