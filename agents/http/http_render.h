/*  http_render.h - what the HTTP listeners serve, rendered on the
    engine's thread from its state: /metrics (http_metrics.c) and the
    JSON API (http_api.c). docs/OPERATIONS.md lists both.
*/
#ifndef MESHQ_HTTP_RENDER_H_INCLUDED
#define MESHQ_HTTP_RENDER_H_INCLUDED

#include "agent_internal.h"

//  Writes the agent's metrics in Prometheus's text format (0.0.4).
void meshq_http_metrics (meshq_engine_t *self, meshq_buf_t *out);

//  Writes the answer to GET path of the JSON API; only: a user whose
//  vhosts (those it has permissions in) are the only ones shown, or
//  NULL for all. Returns the HTTP status (200, or 404 with a reason in
//  out).
unsigned meshq_http_api (meshq_engine_t *self, const char *path,
                         const char *user, const char *only, meshq_buf_t *out);

//  The same for /api/whoami, /api/vhosts, /api/users and
//  /api/permissions (http_api_auth.c), for the logged-in user. Returns
//  the HTTP status, or 0 for another path.
unsigned meshq_http_api_auth (meshq_engine_t *self, const char *path,
                              const char *user, const char *only,
                              meshq_buf_t *out);

//  Splits "VHOST/NAME" (percent-encoded) into vhost and name. Returns 0,
//  or -1 if it is malformed.
int meshq_http_api_split (const char *rest, char *vhost, size_t vhost_size,
                          char *name, size_t name_size);

//  Writes the web page served at / (http_page.c).
void meshq_http_page (meshq_buf_t *out);

#endif
