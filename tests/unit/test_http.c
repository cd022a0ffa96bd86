/*  test_http.c - one HTTP listener (agents/http/http.h) with no engine
    around it: its settings, its ports, and the requests it hands to its
    backend and the answers it gives back.
*/
#include "http.h"
#include "httputil.h"
#include "meshq.h"

#include <czmq.h>
#include <pthread.h>

Test (http, parses_host_and_port)
{
    char host[64], why[256];
    uint16_t port = 1;
    cr_expect_eq (
        meshq_http_parse ("15672", host, sizeof host, &port, why, sizeof why),
        0);
    cr_expect_str_eq (host, "127.0.0.1");
    cr_expect_eq (port, 15672);
    cr_expect_eq (meshq_http_parse ("0.0.0.0:0", host, sizeof host, &port, why,
                                    sizeof why),
                  0);
    cr_expect_str_eq (host, "0.0.0.0");
    cr_expect_eq (port, 0);
    const char *bad[] = {
        "",         "x",        "70000",     "-1", "localhost:1",
        "1.2.3.4:", "1.2.3:80", "1.2.3.4:+5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = 0;
        cr_expect_eq (meshq_http_parse (bad[i], host, sizeof host, &port, why,
                                        sizeof why),
                      MESHQ_EINVAL, "'%s' taken", bad[i]);
        cr_expect (strstr (why, bad[i]), "'%s': %s", bad[i], why);
    }
}

Test (http, port_zero_picks_one_and_a_port_in_use_is_eexist)
{
    meshq_http_t *first = meshq_http_new ("http", "inproc://unit-http-none");
    char why[256];
    cr_assert_eq (meshq_http_start (first, "0", why, sizeof why), 0, "%s", why);
    uint16_t port = meshq_http_port (first);
    cr_expect_gt (port, 0);
    char expected[32];
    snprintf (expected, sizeof expected, "127.0.0.1:%u", port);
    cr_expect_str_eq (meshq_http_address (first), expected);
    meshq_http_t *second = meshq_http_new ("metrics", "inproc://unit-http-x");
    cr_expect_eq (meshq_http_start (second, expected, why, sizeof why),
                  MESHQ_EEXIST);
    cr_expect (strstr (why, "metrics port") && strstr (why, "is in use"), "%s",
               why);
    cr_expect_eq (meshq_http_port (second), 0);
    meshq_http_destroy (&second);
    meshq_http_destroy (&first);
    cr_expect_null (first);
}

typedef struct {
    int port;                  //  Where to ask.
    const char *path;          //  What.
    httputil_answer_t answer;  //  What came back.
} s_client_t;

static void *
s_client (void *arg)
{
    s_client_t *client = arg;
    client->answer = httputil_get (client->port, client->path, "ann", "pw:1");
    return NULL;
}

Test (http, hands_requests_to_its_backend_and_its_answers_back)
{
    zsock_t *backend = zsock_new_router ("inproc://unit-http-backend");
    cr_assert_not_null (backend);
    meshq_http_t *http = meshq_http_new ("http", "inproc://unit-http-backend");
    char why[256];
    cr_assert_eq (meshq_http_start (http, "0", why, sizeof why), 0, "%s", why);
    const unsigned statuses[] = {200, 401};
    //  Of the query, only local=true goes on (this agent's view).
    const char *paths[] = {"/api/queues/%2F/a%20b?columns=x",
                           "/api/queues/%2F/a%20b?columns=x&local=1"};
    const char *forwarded[] = {"/api/queues/%2F/a%20b",
                               "/api/queues/%2F/a%20b?local=true"};
    for (int round = 0; round < 2; round++) {
        s_client_t client = {.port = meshq_http_port (http),
                             .path = paths[round]};
        pthread_t thread;
        pthread_create (&thread, NULL, s_client, &client);
        zsock_set_rcvtimeo (backend, 5000);
        zmsg_t *request = zmsg_recv (backend);
        cr_assert_not_null (request);
        cr_assert_eq (zmsg_size (request), 8);
        zframe_t *routing = zmsg_pop (request);
        zframe_t *rid = zmsg_pop (request);
        const char *expected[] = {"http", "GET",  forwarded[round],
                                  "ann",  "pw:1", "127.0.0.1"};
        for (int i = 0; i < 6; i++) {
            char *frame = zmsg_popstr (request);
            //  The path as it came: names are decoded where split.
            cr_expect_str_eq (frame, expected[i]);
            zstr_free (&frame);
        }
        zmsg_destroy (&request);
        zmsg_t *answer = zmsg_new ();
        zmsg_append (answer, &routing);
        zmsg_append (answer, &rid);
        char status[8];
        snprintf (status, sizeof status, "%u", statuses[round]);
        zmsg_addstr (answer, status);
        zmsg_addstr (answer, "application/json");
        zmsg_addstr (answer, "[\"hello\"]");
        cr_assert_eq (zmsg_send (&answer, backend), 0);
        pthread_join (thread, NULL);
        cr_expect_eq ((unsigned)client.answer.status, statuses[round], "%s",
                      client.answer.text);
        cr_expect_str_eq (client.answer.body, "[\"hello\"]");
        cr_expect (
            strstr (client.answer.text, "Content-Type: application/json"));
        //  A 401 carries the challenge.
        cr_expect_eq (strstr (client.answer.text, "WWW-Authenticate: Basic") !=
                          NULL,
                      round == 1, "%s", client.answer.text);
        httputil_free (&client.answer);
    }
    meshq_http_destroy (&http);
    zsock_destroy (&backend);
}
