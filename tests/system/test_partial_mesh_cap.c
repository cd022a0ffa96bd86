/*  test_partial_mesh_cap.c - an agent past full_links with a cap on its
    links (--max-links) asked to reach more agents than the cap: it
    never holds more links than the cap, still completes the work (a
    mesh-wide list answered by every agent, messages published at
    several agents all reach its consumer), closes spare links to make
    room, and never one of its overlay.

    Ten agents with --full-links 2, as in test_partial_mesh.c: each
    agent's overlay is 4 of the 9 others (1 and 4 places both ways).
    The capped agent has --max-links 6: two links beyond its overlay,
    for 3 of the 5 others.
*/
#include "clientutil.h"
#include "meshutil.h"
#include "procutil.h"
#include "testutil.h"

#define S_NODES     10
#define S_CAPPED    (S_NODES - 1)
#define S_OVERLAY   4
#define S_OTHERS    3  //  Of those outside the overlay, publishing.
#define S_MAX_LINKS (S_OVERLAY + 2)
#define S_MESSAGES  50

static char s_dir[64], s_mesh[64];
static procutil_node_t s_nodes[S_NODES];

static void
s_teardown (void)
{
    meshutil_kill (s_nodes, S_NODES, SIGKILL);
    procutil_rmdir (s_dir);
}

TestSuite (partial_mesh_cap, .fini = s_teardown, .timeout = 180);

//  The agent's STATUS.
static void
s_status (meshq_client_t *client, meshq_args_t *status)
{
    zmsg_t *reply;
    clientutil_status (client, status, &reply);
    zmsg_destroy (&reply);  //  Only numbers are read after.
}

//  Agents in the capped agent's overlay (overlay true) or outside it
//  whose link from it is up (up true) or not.
static int
s_count (meshq_client_t **clients, char hex[][33], bool overlay, bool up)
{
    bool in[S_NODES];
    meshutil_overlay (hex, S_NODES, S_CAPPED, in);
    int count = 0;
    for (int n = 0; n < S_NODES; n++)
        if (n != S_CAPPED && in[n] == overlay &&
            (clientutil_peers_in (clients[S_CAPPED], s_nodes[n].name, "up",
                                  NULL) > 0) == up)
            count++;
    return count;
}

//  Overlay members of the capped agent with no link up from it.
static int
s_overlay_missing (meshq_client_t **clients, char hex[][33])
{
    return s_count (clients, hex, true, false);
}

//  Links of the capped agent up outside its overlay.
static int
s_outside_up (meshq_client_t **clients, char hex[][33])
{
    return s_count (clients, hex, false, true);
}

//  Starts the agents, a client to each, and reads their node ids: the
//  capped one (--max-links) last, into a mesh that is past full_links
//  already, so that it links as a member of a large mesh does from
//  its start. Waits until every agent counts every other as a member
//  and the capped agent has its whole overlay linked.
static void
s_start_all (meshq_client_t **clients, char hex[][33])
{
    procutil_mesh_dir ("linkcap", s_dir, sizeof s_dir, s_mesh, sizeof s_mesh);
    for (int i = 0; i < S_NODES; i++)
        procutil_node_init (&s_nodes[i], s_dir, i, testutil_free_port ());
    char cap[16];
    snprintf (cap, sizeof cap, "%d", S_MAX_LINKS);
    const char *capped[] = {"--max-links", cap, NULL};
    for (int i = 0; i < S_NODES; i++) {
        if (i == S_CAPPED)
            meshutil_wait_members (s_nodes, clients, S_CAPPED, S_NODES - 2);
        meshutil_start_partial (&s_nodes[i], &s_nodes[i ? 0 : 1], s_dir, s_mesh,
                                i == S_CAPPED ? capped : NULL);
        clients[i] = procutil_client (s_nodes[i].control, 5000);
    }
    meshutil_wait_members (s_nodes, clients, S_NODES, S_NODES - 1);
    for (int i = 0; i < S_NODES; i++)
        clientutil_node (clients[i], hex[i]);
    int64_t deadline = zclock_mono () + 30000;
    while (s_overlay_missing (clients, hex) && zclock_mono () < deadline)
        zclock_sleep (200);
    cr_assert_eq (s_overlay_missing (clients, hex), 0,
                  "the capped agent's overlay is not linked");
}

//  The capped agent never held more links than its cap, made room (or
//  refused) for the members outside its overlay, closed only links
//  outside its overlay to do so, and holds its whole overlay now.
static void
s_check_cap (meshq_client_t **clients, char hex[][33])
{
    meshq_args_t status;
    s_status (clients[S_CAPPED], &status);
    fprintf (stderr,
             "link cap: links %llu, peak %llu, max %llu, evicted %llu, "
             "refused %llu\n",
             (unsigned long long)status.links,
             (unsigned long long)status.links_peak,
             (unsigned long long)status.max_links,
             (unsigned long long)status.links_evicted,
             (unsigned long long)status.links_refused);
    cr_expect_eq (status.max_links, S_MAX_LINKS);
    cr_expect_leq (status.links_peak, S_MAX_LINKS,
                   "%llu links open at once, past the cap of %d",
                   (unsigned long long)status.links_peak, S_MAX_LINKS);
    cr_expect_leq (status.links, S_MAX_LINKS);
    cr_expect_gt (status.links_evicted, 0, "no link closed to make room");
    //  Every link closed to make room was outside the overlay.
    bool in[S_NODES];
    meshutil_overlay (hex, S_NODES, S_CAPPED, in);
    FILE *log = fopen (s_nodes[S_CAPPED].log, "r");
    cr_assert_not_null (log);
    char line[4096];
    int closed = 0;
    while (fgets (line, sizeof line, log)) {
        const char *at = strstr (line, "link closed to make room id=");
        if (!at)
            continue;
        at += strlen ("link closed to make room id=");
        closed++;
        for (int n = 0; n < S_NODES; n++)
            cr_expect (!(in[n] && strncmp (at, hex[n], 32) == 0),
                       "overlay link to %s closed to make room",
                       s_nodes[n].name);
    }
    fclose (log);
    cr_expect_eq ((uint64_t)closed, status.links_evicted);
    //  And its overlay is linked.
    cr_expect_eq (s_overlay_missing (clients, hex), 0,
                  "overlay links of the capped agent are not up");
}

Test (partial_mesh_cap, a_capped_agent_lists_every_agent)
{
    meshq_client_t *clients[S_NODES];
    char hex[S_NODES][33];
    s_start_all (clients, hex);
    meshq_client_t *lister = clients[S_CAPPED];
    cr_assert_eq (meshq_client_declare_queue (lister, "listed", NULL), 0);
    meshutil_wait_queue (s_nodes, clients, S_NODES, "listed");
    //  A mesh-wide list from the capped agent asks all nine others:
    //  five are outside its overlay and share its two spare links.
    uint64_t messages = 0, agents = 0;
    clientutil_meshwide (lister, "listed", 20000, &messages, &agents);
    cr_expect_eq (agents, S_NODES, "%llu of %d agents answered the list",
                  (unsigned long long)agents, S_NODES);
    s_check_cap (clients, hex);
    for (int i = 0; i < S_NODES; i++)
        meshq_client_destroy (&clients[i]);
}

//  Whether the capped agent's log says the link to node n was closed
//  to make room, in its lines from the first-th on (counting those
//  lines); *lines gets how many such lines there are.
static bool
s_evicted (char hex[][33], int n, int first, int *lines)
{
    FILE *log = fopen (s_nodes[S_CAPPED].log, "r");
    cr_assert_not_null (log);
    char line[4096];
    const char *text = "link closed to make room id=";
    int at = 0;
    bool found = false;
    while (fgets (line, sizeof line, log)) {
        const char *id = strstr (line, text);
        if (!id)
            continue;
        if (at++ >= first && strncmp (id + strlen (text), hex[n], 32) == 0)
            found = true;
    }
    fclose (log);
    if (lines)
        *lines = at;
    return found;
}

//  Three agents outside the capped agent's overlay publish in
//  turn to its consumer, each once the one before is done: the third
//  finds the cap reached (the overlay and the two before) and takes
//  the place of the first, the least recently used, never the second.
Test (partial_mesh_cap, messages_from_agents_past_the_cap_all_arrive)
{
    meshq_client_t *clients[S_NODES];
    char hex[S_NODES][33];
    s_start_all (clients, hex);
    meshq_client_t *taker = clients[S_CAPPED];
    cr_assert_eq (meshq_client_declare_queue (taker, "work", NULL), 0);
    meshutil_wait_queue (s_nodes, clients, S_NODES, "work");
    cr_assert_eq (meshq_client_consume (taker, "work", 20, NULL, 0), 0);
    bool in[S_NODES];
    meshutil_overlay (hex, S_NODES, S_CAPPED, in);
    int publishers[S_NODES], count = 0;
    for (int i = 0; i < S_NODES; i++)
        if (i != S_CAPPED && !in[i] && count < S_OTHERS)
            publishers[count++] = i;
    cr_assert_eq (count, S_OTHERS);
    //  The links of its start outside the overlay (its seed's) close
    //  once idle: the publishers' are then the only ones that can make
    //  room.
    int64_t deadline = zclock_mono () + 45000;
    while (s_outside_up (clients, hex) && zclock_mono () < deadline)
        zclock_sleep (500);
    cr_assert_eq (s_outside_up (clients, hex), 0,
                  "links outside the overlay still up after 45 s");
    int before_last = 0;
    for (int k = 0; k < count; k++) {
        meshq_client_t *producer = clients[publishers[k]];
        if (k == count - 1)
            s_evicted (hex, 0, 0, &before_last);
        cr_assert_eq (meshq_client_set_confirms (producer, S_MESSAGES), 0);
        for (int m = 0; m < S_MESSAGES; m++)
            cr_assert_eq (
                meshq_client_publish_body (producer, "", "work", "m", 1), 0);
        cr_assert_eq (meshq_client_wait_for_confirms (producer, 10000), 0);
        int received = clientutil_receive (taker, S_MESSAGES, 30000);
        cr_expect_eq (received, S_MESSAGES,
                      "%d of %d confirmed messages from %s arrived", received,
                      S_MESSAGES, s_nodes[publishers[k]].name);
        //  Its link idle, well past the second a link must be unused
        //  to be closed for room, and settled (no wait for a sign of
        //  life), before the next one comes: far short of the 15 s
        //  after which an idle link closes by UNLINK.
        zclock_sleep (3000);
    }
    //  The last publisher's link took the place of the first's, the
    //  least recently used; the second's was never closed for room.
    cr_expect (s_evicted (hex, publishers[0], before_last, NULL),
               "the link to %s, least recently used, was not closed to "
               "make room for %s",
               s_nodes[publishers[0]].name,
               s_nodes[publishers[count - 1]].name);
    cr_expect (!s_evicted (hex, publishers[1], 0, NULL),
               "the link to %s, used after %s's, was closed to make room",
               s_nodes[publishers[1]].name, s_nodes[publishers[0]].name);
    s_check_cap (clients, hex);
    for (int i = 0; i < S_NODES; i++)
        meshq_client_destroy (&clients[i]);
}
