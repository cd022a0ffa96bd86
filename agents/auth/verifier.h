/*  verifier.h - checks passwords on a thread of its own. See
    verifier.c.
*/
#ifndef MESHQ_VERIFIER_H_INCLUDED
#define MESHQ_VERIFIER_H_INCLUDED

#include <czmq.h>

//  The actor: zactor_new (meshq_verifier_actor, NULL).
void meshq_verifier_actor (zsock_t *pipe, void *args);

#endif
