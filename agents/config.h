/*  config.h - the meshq-agent configuration: flags and a ZPL file.

    Every setting has a flag and a key of the same name in the file:

        meshq-agent --name a --interface eth0 --seeds tcp://10.0.0.1:5681

        #   /etc/meshq/agent.cfg (ZPL)
        name = a
        interface = eth0
        seeds = "tcp://10.0.0.1:5681,tcp://10.0.0.2:5681"

    Flags override the file. Anything not understood is refused with a
    sentence saying what and why; the daemon exits 64 (EX_USAGE) for bad
    flags and 78 (EX_CONFIG) for a bad file.
*/
#ifndef MESHQ_AGENT_CONFIG_H_INCLUDED
#define MESHQ_AGENT_CONFIG_H_INCLUDED

#include "peers.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *name;                   //  Node name; NULL: the host name.
    char *mesh;                   //  Mesh name; NULL: "default".
    char *vhost;                  //  Vhost; NULL: "/".
    char *interface;              //  Interface name or address, or NULL.
    char *seeds;                  //  Comma-separated tcp:// endpoints, or NULL.
    char *control;                //  Client endpoint; NULL: the default.
    char *data;                   //  Data directory, or NULL.
    char *config_file;            //  The file read, or NULL.
    meshq_transport_t transport;  //  Beacon transport.
    uint16_t port;                //  Mesh ROUTER port; 0: ephemeral.
    uint16_t beacon_port;         //  UDP beacon port; 0: 5680.
    bool no_beacon;               //  Seeds only.
    uint32_t beacon_interval_ms;  //  0: the default.
    uint32_t heartbeat_ms;        //  0: the default.
    uint32_t peer_timeout_ms;     //  0: the default.
    bool help;                    //  --help was given.
    bool version;                 //  --version was given.
} meshq_agent_config_t;

//  What went wrong, for the exit code.
typedef enum {
    MESHQ_CONFIG_OK,     //  Parsed.
    MESHQ_CONFIG_USAGE,  //  A bad flag or value on the command line.
    MESHQ_CONFIG_FILE,   //  The file cannot be read, or holds a bad key.
} meshq_config_status_t;

//  Parses argv and, if --config FILE is given, the file. Fills config
//  (free it with meshq_agent_config_fini); on failure writes a sentence
//  to error.
meshq_config_status_t meshq_agent_config_parse (meshq_agent_config_t *config,
                                                int argc, char *argv[],
                                                char *error, size_t error_size);

//  Frees the strings of config.
void meshq_agent_config_fini (meshq_agent_config_t *config);

//  Fills peers (borrowing config's strings) for meshq_peers_new.
void meshq_agent_config_peers (const meshq_agent_config_t *config,
                               meshq_peers_config_t *peers);

//  The usage text.
extern const char *meshq_agent_usage;

#endif
