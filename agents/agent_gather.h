/*  agent_gather.h - a mesh-wide list of queues being gathered
    (agent_lists_mesh.c), as its two askers read it: a client's
    LIST_QUEUES (agent_lists_mesh.c) and the JSON API's /api/queues
    (http/http_api.c).
*/
#ifndef MESHQ_AGENT_GATHER_H_INCLUDED
#define MESHQ_AGENT_GATHER_H_INCLUDED

#include "agent_internal.h"

//  A peer asked, with why its part is missing (if it is).
typedef struct {
    char hex[33];                       //  Its id.
    char name[MESHQ_MAX_SHORTSTR + 1];  //  Its name.
    meshq_vhost_t *vhost;               //  Asked for: compared, never read.
    const char *why;                    //  Static: why its part is missing.
    bool waiting;                       //  Asked, not yet answered.
    bool linking;  //  Past full_links, with no link yet: asked once up.
} meshq_gather_asked_t;

//  One agent's part of a queue (kept for the JSON API only).
typedef struct {
    size_t who;          //  Index in asked, or SIZE_MAX: this agent.
    uint64_t ready;      //  Its messages ready.
    uint64_t unacked;    //  Its messages delivered, not yet acked.
    uint64_t consumers;  //  Consumers connected there.
    uint64_t bytes;      //  Bytes of its ready messages.
} meshq_gather_part_t;

//  A queue's totals, and its parts.
typedef struct {
    meshq_args_t args;                   //  The totals; queue is name.
    char name[MESHQ_MAX_SHORTSTR + 1];   //  The queue's name.
    char vhost[MESHQ_MAX_SHORTSTR + 1];  //  Its vhost's.
    meshq_gather_part_t *parts;          //  Its parts, or NULL.
    size_t part_count;                   //  How many.
} meshq_gather_row_t;

//  What a gather holds once complete.
typedef struct {
    zhashx_t *rows;               //  "vhost" NUL... -> meshq_gather_row_t.
    meshq_gather_asked_t *asked;  //  Peers asked.
    size_t asked_count;           //  How many.
} meshq_gather_view_t;

//  Starts gathering the queues of the vhosts an HTTP user sees (only: a
//  user whose vhosts are shown, or NULL for all), or of one vhost if
//  vhost is not NULL; ticket is given back to meshq_engine_http_gathered
//  when all answered or the timeout passed. Returns 0, or MESHQ_EAGAIN
//  if too many gathers are open (then nothing is called back).
int meshq_engine_gather_http (meshq_engine_t *self, const char *only,
                              meshq_vhost_t *vhost, void *ticket);

//  Called back (http/http_engine.c) with the complete view.
void meshq_engine_http_gathered (meshq_engine_t *self, void *ticket,
                                 const meshq_gather_view_t *view);

//  Writes the JSON of a gathered view (http/http_api.c): every row, or
//  the row of queue name in vhost (then 404 if it is not there).
unsigned meshq_http_api_gathered (meshq_engine_t *self,
                                  const meshq_gather_view_t *view,
                                  const char *vhost, const char *name,
                                  meshq_buf_t *out);

#endif
