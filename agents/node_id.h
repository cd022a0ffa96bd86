/*  node_id.h - the second copy of this node's id: a small file in the
    data directory, beside the "node" record of the default vhost's
    store.

    The node id names this agent in the mesh and is the origin of every
    message it stores; if it changed, the agent would become another
    node. The store keeps it in a record; one damaged sector must not
    cost it, so it is also kept here, and the agent (agent_meta.c)
    repairs either copy from the other and refuses to start if they
    disagree. The file is one line, "meshq-node ID CRC\n": ID in 32 hex
    digits, CRC the CRC-32C of its 16 bytes in 8 (docs/STORAGE.md
    section 9). Its name starts with '.', which the store ignores.
*/
#ifndef MESHQ_NODE_ID_H_INCLUDED
#define MESHQ_NODE_ID_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Name of the file in the data directory.
#define MESHQ_NODE_ID_FILE ".node-id"

//  Reads the node id of data directory into id. Returns 0,
//  MESHQ_ENOTFOUND if there is no file, MESHQ_ECORRUPT if it is not a
//  node id with a matching CRC, or MESHQ_EIO; why says which.
int meshq_node_id_load (const char *directory, uint8_t id[16], char *why,
                        size_t size);

//  Writes id into the data directory's file, atomically (a temporary
//  file synced and renamed, then the directory synced). Returns 0 or
//  MESHQ_EIO with why set.
int meshq_node_id_save (const char *directory, const uint8_t id[16], char *why,
                        size_t size);

#endif
