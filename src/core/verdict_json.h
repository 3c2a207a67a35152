/*
 * verdict_json - an inbound verdict (struct core_verdict of core/inbound.h)
 * as a JSON object, the one document `mamori scan --json` prints and
 * POST /v1/scan answers (docs/api.md): the action, the content score,
 * labels and reasons, the SPF/DKIM/DMARC part under "auth" and, flat, the
 * members older readers know.  A reason's detail that is not UTF-8
 * (message bytes) is given in ASCII with '?' for the other bytes.
 *
 * Threading: any thread; it reads cv only.
 */
#ifndef MAMORI_CORE_VERDICT_JSON_H
#define MAMORI_CORE_VERDICT_JSON_H

#include <stddef.h>

#include <jansson.h>

struct core_verdict;

/* cv as a new JSON object; fields is the number of header fields read. */
json_t *core_verdict_json(const struct core_verdict *cv, size_t fields);

#endif
