/*  agent.h - the queue agent engine, a CZMQ actor.

    The engine holds a node's exchanges, queues and bindings, its
    clients' sessions and the durable store underneath, all in one zloop
    thread. Start it with zactor_new (meshq_agent_actor, &config) and
    then send START; it binds the client endpoints (always
    inproc://meshq-NAME, and those in config) and recovers the store:

        zactor_t *agent = zactor_new (meshq_agent_actor, &config);
        zstr_send (agent, "START");
        char *status, *why;
        zsock_recv (agent, "ss", &status, &why);   //  "OK" or "ERROR"

    $TERM stops it. meshq-agent (the daemon) and meshq_agent_t (embedded
    in an application, meshq_agent.h) both host this same actor.
*/
#ifndef MESHQ_AGENT_H_INCLUDED
#define MESHQ_AGENT_H_INCLUDED

#include "store.h"

#include <czmq.h>

//  Frames the agent queues for one client connection by default: far
//  more than one turn's replies, a few MB of them (docs/OPERATIONS.md).
#define MESHQ_CLIENT_HWM_DEFAULT 10000

//  Bytes of messages held above which publishers are asked to pause.
#define MESHQ_FLOW_MEMORY_DEFAULT (8 * 1024 * 1024)

//  Milliseconds of its consumers' pace a queue may hold before its
//  publishers are asked to pause.
#define MESHQ_FLOW_TIME_DEFAULT 10

typedef struct {
    char name[64];                //  Node name; inproc://meshq-NAME.
    char data[1024];              //  Store directory.
    char endpoints[1024];         //  More client endpoints, comma-separated.
    meshq_store_config_t store;   //  Store settings.
    size_t max_message;           //  Largest body accepted.
    int ack_timeout_ms;           //  Default ack timeout of queues.
    int tick_ms;                  //  Lease and TTL check period.
    bool mesh;                    //  Join a mesh (else serve alone).
    char mesh_name[64];           //  Mesh name ("default").
    char interface[64];           //  Beacon interface, or "" (automatic).
    char seeds[1024];             //  tcp:// endpoints of seeds, or "".
    uint32_t seeds_refresh_ms;    //  Seed names resolved again, 0: 30 s.
    uint16_t port;                //  Mesh ROUTER port of '/', 0: ephemeral.
    uint16_t beacon_port;         //  UDP port of beacons, 0: 5680.
    bool no_beacon;               //  Seeds only.
    uint32_t beacon_ms;           //  Beacon interval, 0: default.
    char transport[16];           //  Beacons: auto, multicast, broadcast,
                                  //  ipv6; "": auto.
    uint32_t heartbeat_ms;        //  Peer heartbeat, 0: default.
    uint32_t peer_timeout_ms;     //  Peer silence until down, 0: default.
    uint32_t full_links;          //  Mesh size up to which every agent
                                  //  links to every other; 0: 64.
    uint32_t max_links;           //  Past it, most links open at once;
                                  //  0: 256 (full_links + 64 if more).
    uint32_t read_ahead_percent;  //  Read-ahead for remote origins, as a
                                  //  percentage of local prefetch.
    uint64_t max_memory;          //  Bytes of messages before publishers
                                  //  are refused; 0: 40% of physical RAM.
    uint64_t flow_memory;         //  Bytes of messages above which
                                  //  publishers are asked to pause; 0: never.
    uint32_t flow_time_ms;        //  Backlog, in ms of its consumers' pace,
                                  //  above which publishers are asked to
                                  //  pause; 0: flow_memory alone.
    char mesh_secret_file[1024];  //  The mesh secret's file, or "": mesh
                                  //  links without CURVE.
    uint32_t client_hwm;          //  Frames queued for one client, at most.
    uint32_t max_vhosts;          //  Vhosts served, at most; 0: as many
                                  //  as the process's limits allow.
    char http[64];                //  HTTP API at [HOST:]PORT, or "": none.
    bool http_fallback;           //  http is a default: if its port is
                                  //  taken, warn and serve none.
    char metrics[64];             //  Prometheus metrics at [HOST:]PORT,
                                  //  or "": none.
    bool metrics_fallback;        //  The same, for metrics.
    bool metrics_login;           //  /metrics asks for a login.
    char amqp[256];               //  AMQP 0-9-1 listener, "host:port" (port
                                  //  0: any free one), or "": none.
    bool amqp_default;            //  amqp is the daemon's default: if its
                                  //  port is taken, warn and go without.
} meshq_agent_config_t;

//  Sets the defaults: name "meshq", no extra endpoints, 16 MiB bodies,
//  30-minute ack timeout, 100 ms tick, 10000 frames queued per client,
//  publishers paused above 8 MiB of messages held.
//  data must be set.
void meshq_agent_config_init (meshq_agent_config_t *config);

//  Sets one setting by name from text (agent_config.c): name, data,
//  endpoint (adds one), max_message, ack_timeout, max_memory, flow_memory,
//  flow_time, segment_size, quota, mesh, interface, seeds, seeds_refresh,
//  no_beacon, port,
//  beacon_port, beacon_interval, transport, heartbeat, peer_timeout,
//  full_links, max_links,
//  read_ahead, mesh_secret_file (only its name: the agent reads the file
//  when it starts), client_hwm, max_vhosts, http and metrics ([HOST:]PORT
//  or "" for none), metrics_login, amqp.
//  Returns 0, or MESHQ_EINVAL with why filled in.
int meshq_agent_config_set (meshq_agent_config_t *config, const char *name,
                            const char *value, char *why, size_t size);

//  The actor. args is a meshq_agent_config_t, copied at start.
void meshq_agent_actor (zsock_t *pipe, void *args);

#endif
