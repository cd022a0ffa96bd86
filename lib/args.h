/*  args.h - the named arguments of client and agent frames.

    Every frame between a client and its agent, and between agents, is a
    command plus a msgpack map of named arguments (docs/PROTOCOL.md,
    section 2). meshq_args_t holds any of them: one member per argument,
    a bit in 'present' per member set. MESHQ_ARGS lists them once; the
    struct, the codec's key table and the docs' table follow from it.
    Strings are borrowed from the frame they were decoded from.
*/
#ifndef MESHQ_ARGS_H_INCLUDED
#define MESHQ_ARGS_H_INCLUDED

#include "envelope.h"

//  X (ID, member, key, kind): kinds are UINT (uint64), INT (int64), BOOL,
//  STR (UTF-8, at most 255 bytes), TEXT (UTF-8, at most 65535 bytes),
//  BIN (bytes, at most 65535),
//  ID (bin, exactly 16 bytes), MAP (a map of header-like entries, kept
//  as its validated bytes).
#define MESHQ_ARGS(X)                                                          \
    X (RID, rid, "rid", UINT)                  /* request id */                \
    X (CODE, code, "code", INT)                /* MESHQ_E* code */             \
    X (WHY, why, "why", TEXT)                  /* reason */                    \
    X (QUEUE, queue, "q", STR)                 /* queue name */                \
    X (EXCHANGE, exchange, "x", STR)           /* exchange name */             \
    X (KEY, key, "k", STR)                     /* routing/binding key */       \
    X (TYPE, type, "type", STR)                /* exchange type */             \
    X (TAG, tag, "tag", STR)                   /* consumer tag */              \
    X (DTAG, dtag, "dt", UINT)                 /* delivery tag */              \
    X (SEQ, seq, "seq", UINT)                  /* sequence number */           \
    X (UPTO, upto, "upto", UINT)               /* last seq confirmed */        \
    X (ORIGIN, origin, "o", ID)                /* origin node id */            \
    X (SESSION, session, "sid", ID)            /* client session id */         \
    X (PREFETCH, prefetch, "pf", UINT)         /* unacked limit */             \
    X (MULTIPLE, multiple, "mul", BOOL)        /* up to this tag */            \
    X (REQUEUE, requeue, "rq", BOOL)           /* requeue on nack */           \
    X (MANDATORY, mandatory, "man", BOOL)      /* return unroutable */         \
    X (REDELIVERED, redelivered, "red", BOOL)  /* delivered before */          \
    X (DELIVERIES, count, "n", UINT)           /* delivery count */            \
    X (NO_ACK, no_ack, "noack", BOOL)          /* auto-ack */                  \
    X (DURABLE, durable, "dur", BOOL)          /* survives restart */          \
    X (EXCLUSIVE, exclusive, "excl", BOOL)     /* one connection only */       \
    X (AUTO_DELETE, auto_delete, "ad", BOOL)   /* delete when unused */        \
    X (PASSIVE, passive, "pas", BOOL)          /* check, don't create */       \
    X (IF_UNUSED, if_unused, "ifu", BOOL)      /* delete if unused */          \
    X (IF_EMPTY, if_empty, "ife", BOOL)        /* delete if empty */           \
    X (MAX_LENGTH, max_length, "maxlen", UINT) /* queue arguments... */        \
    X (MAX_BYTES, max_bytes, "maxbytes", UINT)                                 \
    X (OVERFLOW, overflow, "ovf", STR)                                         \
    X (MESSAGE_TTL, message_ttl, "ttl", UINT)                                  \
    X (DLX, dlx, "dlx", STR)                                                   \
    X (DLRK, dlrk, "dlrk", STR)                                                \
    X (MAX_PRIORITY, max_priority, "maxpri", UINT)                             \
    X (MAX_DELIVERIES, max_deliveries, "maxdel", UINT)                         \
    X (ACK_TIMEOUT, ack_timeout, "ackto", UINT)                                \
    X (DEDUP_WINDOW, dedup_window, "dedup", UINT)                              \
    X (DISPATCH, dispatch, "disp", STR)             /* ...end of them */       \
    X (MATCH, match, "match", MAP)                  /* headers binding */      \
    X (MESSAGES, messages, "msgs", UINT)            /* ready messages */       \
    X (UNACKED, unacked, "unacked", UINT)           /* delivered, unacked */   \
    X (CONSUMERS, consumers, "cons", UINT)          /* consumer count */       \
    X (BYTES, bytes, "bytes", UINT)                 /* bytes held */           \
    X (EMPTY, empty, "empty", BOOL)                 /* get found nothing */    \
    X (HEARTBEAT, heartbeat, "hb", UINT)            /* heartbeat ms */         \
    X (MAX_MESSAGE, max_message, "maxmsg", UINT)    /* largest body */         \
    X (NAME, name, "name", STR)                     /* node or client name */  \
    X (NODE, node, "node", STR)                     /* node id, hex */         \
    X (MESH, mesh, "mesh", STR)                     /* mesh name */            \
    X (VHOST, vhost, "vhost", STR)                  /* virtual host */         \
    X (USER, user, "user", STR)                     /* user name */            \
    X (VERSION, version, "version", STR)            /* software version */     \
    X (ENDPOINT, endpoint, "endpoint", STR)         /* an endpoint */          \
    X (HTTP, http, "http", STR)                     /* HTTP API address */     \
    X (METRICS, metrics, "metrics", STR)            /* metrics address */      \
    X (STATE, state, "state", STR)                  /* a state's name */       \
    X (CREDIT, credit, "credit", UINT)              /* credit granted */       \
    X (INFLIGHT, inflight, "inflight", UINT)        /* sent, not acked */      \
    X (UPTIME, uptime, "uptime_ms", UINT)           /* ms since start */       \
    X (PUBLISH_RATE, publish_rate, "pubrate", UINT) /* msgs/s in */            \
    X (DELIVER_RATE, deliver_rate, "dlvrate", UINT) /* msgs/s out */           \
    X (PASSWORD, password, "pw", TEXT)              /* a password */           \
    X (PWHASH, pwhash, "pwh", TEXT)                 /* password hash */        \
    X (TAGS, tags, "tags", STR)                     /* user tags */            \
    X (CONFIGURE, configure, "cfg", TEXT)           /* permission regex */     \
    X (WRITE, write, "wr", TEXT)                    /* permission regex */     \
    X (READ, read, "rd", TEXT)                      /* permission regex */     \
    X (REFUSED, refused, "refused", UINT) /* logins, accesses refused */       \
    X (REFUSED_PASSWORD, refused_password, "refused_pw", UINT)                 \
    X (REFUSED_BUSY, refused_busy, "refused_busy", UINT)                       \
    X (REFUSED_THROTTLED, refused_throttled, "refused_throttled", UINT)        \
    X (DROPPED, dropped, "dropped", UINT)      /* bad input dropped */         \
    X (DTAGS, dtags, "dts", BIN)               /* delivery tags, 8-byte LE */  \
    X (META_KEY, meta_key, "mk", TEXT)         /* metadata key */              \
    X (META_VERSION, meta_version, "mv", UINT) /* metadata version */          \
    X (ID, id, "id", STR)                      /* a node id, hex */            \
    X (INCARNATION, incarnation, "incarnation", UINT) /* a start of a node */  \
    X (LAST_SEEN, last_seen, "last_seen_ms", UINT)    /* ms since heard */     \
    X (MESH_READY, mesh_ready, "meshmsgs", UINT)      /* ready, all nodes */   \
    X (PEERS, peers, "peers_up", UINT)                /* peers up */           \
    X (BAD_BEACONS, bad_beacons, "badbeacons", UINT)  /* not beacons */        \
    X (BAD_HANDSHAKES, bad_handshakes, "badshakes", UINT) /* refused peers */  \
    X (MEMBERS, members, "members", UINT)    /* alive in the membership */     \
    X (SUSPECTS, suspects, "suspects", UINT) /* of them suspected */           \
    X (HEALTH, health, "health", UINT)       /* own health multiplier */       \
    X (MEMBERS_FULL, members_full, "membersfull", UINT)       /* table full */ \
    X (GOSSIP_DROPPED, gossip_dropped, "gossipdropped", UINT) /* queue full */ \
    X (ANSWERS_HELD, answers_held, "answersheld", UINT) /* over budget */      \
    X (LINKS, links, "links", UINT)                     /* links open now */   \
    X (LINKS_PEAK, links_peak, "linkspeak", UINT)       /* most at once */     \
    X (MAX_LINKS, max_links, "maxlinks", UINT)          /* their cap */        \
    X (LINKS_REFUSED, links_refused, "linksrefused", UINT) /* at the cap */    \
    X (LINKS_EVICTED, links_evicted, "linksevicted", UINT) /* made room */     \
    X (MEMBER, member, "member", STR) /* state in the membership */            \
    X (MEMBER_INCARNATION, member_incarnation, "minc", UINT) /* its start */   \
    X (MEMBER_VERSION, member_version, "mver", UINT)  /* its refutations */    \
    X (QUARANTINED, quarantined, "quarantined", UINT) /* kept, no record */    \
    X (BATCH, batch, "nb", UINT)          /* deliveries in one frame */        \
    X (ONE_FRAME, one_frame, "one", BOOL) /* takes one-frame commands */       \
    X (SLOW_CLIENTS, slow_clients, "slowclients", UINT) /* did not read */     \
    X (UNSENT, unsent, "unsent", UINT) /* frames not sent to clients */        \
    X (RSS, rss, "rss_kb", UINT)       /* resident memory now */               \
    X (RSS_PEAK, rss_peak, "rss_peak_kb", UINT) /* its peak */                 \
    X (RSS_IDLE, rss_idle, "rss_idle_kb", UINT) /* 3 s after start */          \
    X (STAGES, stages, "stages", TEXT)          /* time per stage, us */       \
    X (UNDELIVERED, undelivered, "nd", BOOL)    /* reached no consumer */      \
    X (DISPOSED_EXPIRED, disposed_expired, "dexp", UINT) /* by reason: */      \
    X (DISPOSED_MAXLEN, disposed_maxlen, "dmax", UINT)                         \
    X (DISPOSED_REJECTED, disposed_rejected, "drej", UINT)                     \
    X (DISPOSED_LIMIT, disposed_limit, "dlim", UINT)                           \
    X (DISPOSED_DEDUP, disposed_dedup, "ddup", UINT)                           \
    X (INSECURE, insecure, "insecure", BOOL)   /* open mesh: no secret */      \
    X (DUP_NAMES, dup_names, "dupnames", UINT) /* peers with our name */       \
    X (MESHWIDE, meshwide, "meshwide", BOOL)   /* a list of the mesh */        \
    X (LOCAL, local, "local", BOOL)            /* this agent's part only */    \
    X (TIMEOUT, timeout, "tmo", UINT)          /* ms to wait for others */     \
    X (AGENTS, agents, "agents", UINT)         /* agents that answered */      \
    X (MEMORY, memory, "mem", UINT)            /* bytes of messages held */    \
    X (MAX_MEMORY, max_memory, "maxmem", UINT) /* memory high-water mark */    \
    X (STORE_BYTES, store_bytes, "storebytes", UINT) /* bytes stored */        \
    X (QUOTA, quota, "quota", UINT)            /* store quota, 0: none */      \
    X (DISK_FREE, disk_free, "diskfree", UINT) /* free on the store's fs */    \
    X (BLOCKED, blocked, "blocked", BOOL)      /* publishers refused */        \
    X (ALARMS, alarms, "alarms", STR)          /* alarms raised, or "" */      \
    X (PROTOCOL, protocol, "proto", STR)       /* a listener's protocol */     \
    X (UNACKED_BYTES, unacked_bytes, "ubytes", UINT) /* bytes unacked */       \
    X (HELD, held, "held", UINT) /* read ahead from other agents */            \
    X (AMQP, amqp, "amqp", STR)  /* AMQP listener */

typedef enum {
#define MESHQ_ARGS_ENUM(ID, member, key, kind) MESHQ_A_##ID,
    MESHQ_ARGS (MESHQ_ARGS_ENUM)
#undef MESHQ_ARGS_ENUM
        MESHQ_A_COUNT
} meshq_arg_t;

#define MESHQ_ARG_UINT(member) uint64_t member;
#define MESHQ_ARG_INT(member)  int64_t member;
#define MESHQ_ARG_BOOL(member) bool member;
#define MESHQ_ARG_STR(member)  meshq_span_t member;
#define MESHQ_ARG_TEXT(member) meshq_span_t member;
#define MESHQ_ARG_ID(member)   uint8_t member[16];
#define MESHQ_ARG_MAP(member)  meshq_span_t member;
#define MESHQ_ARG_BIN(member)  meshq_span_t member;

//  A bit per argument: more than 64 of them, so 128 bits (a GNU C type
//  that gcc and clang both have).
__extension__ typedef unsigned __int128 meshq_argbits_t;

//  The bit of an argument.
#define MESHQ_ARG_BIT(ID) ((meshq_argbits_t)1 << (ID))

//  One member per argument (see MESHQ_ARGS for their meaning).
typedef struct {
    meshq_argbits_t present;  //  MESHQ_ARG_BIT per argument set.
    uint32_t match_count;     //  Entries in the 'match' map.
#define MESHQ_ARGS_MEMBER(ID, member, key, kind) MESHQ_ARG_##kind (member)
    MESHQ_ARGS (MESHQ_ARGS_MEMBER)
#undef MESHQ_ARGS_MEMBER
} meshq_args_t;

//  Sets an argument's member and its present bit:
//  MESHQ_ARGS_SET (&args, QUEUE, queue, span).
#define MESHQ_ARGS_SET(args, ID, member, value)                                \
    do {                                                                       \
        (args)->member = (value);                                              \
        (args)->present |= MESHQ_ARG_BIT (MESHQ_A_##ID);                       \
    } while (0)

//  True if the argument is present.
#define MESHQ_ARGS_HAS(args, ID) (((args)->present >> MESHQ_A_##ID) & 1)

//  Marks an argument present (for members set by hand, like ids).
#define MESHQ_ARGS_MARK(args, ID)                                              \
    ((args)->present |= MESHQ_ARG_BIT (MESHQ_A_##ID))

#endif
