/* fast_flow — a plain sales question answered in one step, from the playbook.
 *
 * The best passages are retrieved from the knowledge base; then either the
 * local answer composer quotes them (no model), or one streamed model call
 * answers with the passages in its instructions — no runner, no tools, so the
 * first token comes as soon as the model sends it. The exchange is appended
 * to the session as the Sales Coach's, so the conversation reads the same
 * whichever flow answered. */
#ifndef HARDE_HARDE_FAST_FLOW_H
#define HARDE_HARDE_FAST_FLOW_H

#include "agent/agent.h"
#include "harde/app.h"
#include "harde/session.h"
#include "harde/turn.h"

/* Runs the fast flow; fills result like agent_run does and returns its status. */
int harde_fast_flow_run(struct harde_app *app, struct harde_session *session, const char *text,
                        const struct harde_turn_options *options, struct agent_result *result);

#endif
