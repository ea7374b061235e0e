/* router — fast or agent flow per message. See router.h. */
#include "harde/router.h"

#include <string.h>

#include "llm/local/intent.h"

/* Above this probability a sales question goes to the fast flow. Stricter
 * than the classifier's own threshold: a wrong fast answer costs more than
 * one extra model call. */
#define ROUTER_FAST_CONFIDENCE 0.6

const char *harde_flow_name(enum harde_flow flow)
{
    return flow == HARDE_FLOW_FAST ? "fast" : "agent";
}

/* True when the last assistant message is a question from a specialist other
 * than the Sales Coach: the rep is probably answering it. */
static bool question_pending(const struct harde_session *s)
{
    const struct llm_message *q = llm_messages_open_question(s->messages.items, s->messages.len);
    return q && q->agent && strcmp(q->agent, "Sales Coach") != 0;
}

void harde_route_message(const struct harde_app *app, const struct harde_session *session,
                         const char *text, struct harde_route *out)
{
    *out = (struct harde_route){.flow = HARDE_FLOW_AGENT, .reason = "default"};
    if (!app->intents) {
        out->reason = "no classifier";
        return;
    }
    struct intent_prediction pred;
    if (intent_classify(app->intents, text, &pred) != 0) {
        out->reason = "unclassifiable";
        return;
    }
    out->intent = pred.label;
    out->confidence = pred.probability;
    if (question_pending(session)) {
        out->reason = "answers a specialist's question";
        return;
    }
    if (strcmp(pred.label, "sales_coach") == 0 && pred.probability >= ROUTER_FAST_CONFIDENCE) {
        out->flow = HARDE_FLOW_FAST;
        out->reason = "plain sales question";
        return;
    }
    out->reason = pred.probability >= ROUTER_FAST_CONFIDENCE ? "needs an agent" : "not sure";
}
