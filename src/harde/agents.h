/* agents — Hard-E's agents: Triage, Sales Coach and Pricing, and their tools.
 *
 * The agents are data built once per app from its configuration: model names
 * per role (Triage on the small model, specialists on the large one), the
 * company persona for the instructions, and the price book, whose materials,
 * styles and items become the enums (with aliases) of the quote tool's JSON
 * Schema so models — cloud or local — can only ask for things the book sells.
 * Triage routes; specialists may hand off to each other. */
#ifndef HARDE_HARDE_AGENTS_H
#define HARDE_HARDE_AGENTS_H

#include "agent/agent.h"

struct harde_app;
struct harde_agents;

/* New agents for app (borrowed; must outlive them). */
struct harde_agents *harde_agents_new(const struct harde_app *app);
void harde_agents_free(struct harde_agents *agents);
/* The routing agent every turn starts at (borrowed). */
const struct agent *harde_agents_triage(const struct harde_agents *agents);
/* The agent with that name, or NULL (borrowed). */
const struct agent *harde_agents_find(const struct harde_agents *agents, const char *name);
/* The quote tool's parameter schema as JSON text (borrowed). */
const char *harde_agents_quote_schema(const struct harde_agents *agents);

#endif
