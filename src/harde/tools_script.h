/* tools_script — the Script agent's tools: draft a personalised video script
 * for a CRM job, revise it on request, save the final draft on the job.
 *
 * The draft lives in the session's ScriptDraftState, so a rep can revise it
 * over many turns and across restarts. Offline the text is composed by
 * harde/script.c from the job's facts; a cloud model may pass its own text to
 * script_revise instead. Saving adds the draft to the job as a CRM note and
 * finishes the workflow. */
#ifndef HARDE_HARDE_TOOLS_SCRIPT_H
#define HARDE_HARDE_TOOLS_SCRIPT_H

#include "agent/agent.h"

#define SCRIPT_TOOL_COUNT 3

/* Fills tools; *schema_out is a new string for script_start's schema, freed
 * by the caller after the tools are gone. */
void script_tools_init(struct agent_tool tools[SCRIPT_TOOL_COUNT], char **schema_out);

#endif
