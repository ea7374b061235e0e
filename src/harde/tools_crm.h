/* tools_crm — the CRM agent's tools: look-ups, notes, stage moves and the
 * new-client workflow, with writes gated by the rep's confirmation.
 *
 * Reads and notes go straight to the CRM. A stage move or a new client is
 * first staged in the session (session->pending, or the NewClientState with
 * its pending_confirmation flag) and summarised; only the `confirm` tool
 * writes, and it decides from the rep's own words in this turn (a clear yes),
 * never from the model's arguments — so an ambiguous answer writes nothing. */
#ifndef HARDE_HARDE_TOOLS_CRM_H
#define HARDE_HARDE_TOOLS_CRM_H

#include "agent/agent.h"

#define CRM_TOOL_COUNT 5

/* Fills tools with the CRM agent's tools. The new_client tool's schema is
 * built from the NewClientState field table: *schema_out is a new string the
 * caller frees after the tools are gone. */
void crm_tools_init(struct agent_tool tools[CRM_TOOL_COUNT], char **schema_out);

/* The pending-write summary of a session as text for instructions (new), or NULL. */
struct harde_session;
char *crm_tools_pending_text(const struct harde_session *session);

#endif
