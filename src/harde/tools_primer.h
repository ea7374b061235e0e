/* tools_primer — the Primer Video agent's tools: start the autonomous primer
 * video for a job from the chat ("make the primer video for the Garcia job")
 * and tell where it stands ("did the primer go out?").
 *
 * Starting only records the run in the store (one per job, by its dedupe
 * key); a worker (`harde worker`) produces and sends it, so the chat answers
 * at once. */
#ifndef HARDE_HARDE_TOOLS_PRIMER_H
#define HARDE_HARDE_TOOLS_PRIMER_H

#include "agent/agent.h"

#define PRIMER_TOOL_COUNT 2

void primer_tools_init(struct agent_tool tools[PRIMER_TOOL_COUNT]);

#endif
