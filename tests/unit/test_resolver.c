/*  test_resolver.c - seeds by DNS name: which host names a seed may
    give, and the resolver actor's answers (numeric hosts and
    "localhost", which resolve without DNS).
*/
#include "meshq.h"
#include "resolver.h"

#include <criterion/criterion.h>
#include <sys/socket.h>

Test (resolver, takes_dns_names_and_refuses_the_rest)
{
    const char *good[] = {"localhost",
                          "agents.meshq.test",
                          "a",
                          "x-1.y",
                          "meshq.prod.svc.cluster.local",
                          "10.0.0.5"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect (meshq_resolver_host_valid (good[i]), "%s", good[i]);
    char long_label[80], long_name[300];
    memset (long_label, 'a', 64);
    long_label[64] = 0;
    memset (long_name, 'a', 254);
    for (int i = 50; i < 254; i += 50)
        long_name[i] = '.';
    long_name[254] = 0;
    const char *bad[] = {"",
                         "agents_meshq",
                         "-agents.test",
                         "agents-.test",
                         "agents..test",
                         ".agents",
                         "agents.",
                         "a b",
                         "[::1]",
                         "host:80",
                         "ágents",
                         long_label,
                         long_name};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not (meshq_resolver_host_valid (bad[i]), "%s", bad[i]);
}

//  The actor's next answer: index, error, and endpoints joined by ' '.
static void
s_answer (zactor_t *resolver, char *index, char *error, char *endpoints,
          size_t size)
{
    zpoller_t *poller = zpoller_new (resolver, NULL);
    cr_assert_not_null (zpoller_wait (poller, 30000), "no answer");
    zpoller_destroy (&poller);
    zmsg_t *msg = zmsg_recv (resolver);
    cr_assert_not_null (msg);
    char *command = zmsg_popstr (msg);
    cr_expect_str_eq (command, "RESOLVED");
    free (command);
    char *text = zmsg_popstr (msg);
    snprintf (index, 8, "%s", text);
    free (text);
    text = zmsg_popstr (msg);
    snprintf (error, 256, "%s", text);
    free (text);
    *endpoints = 0;
    for (char *e = zmsg_popstr (msg); e; e = zmsg_popstr (msg)) {
        size_t used = strlen (endpoints);
        snprintf (endpoints + used, size - used, "%s%s", used ? " " : "", e);
        free (e);
    }
    zmsg_destroy (&msg);
}

Test (resolver, answers_each_name_at_once_and_again)
{
    const char *hosts[] = {"localhost", "127.0.0.7", "no-such-host.invalid"};
    const uint16_t ports[] = {5681, 1, 65535};
    meshq_resolver_args_t args = {.hosts = hosts,
                                  .ports = ports,
                                  .count = 3,
                                  .family = AF_INET,
                                  .interval_ms = 100};
    zactor_t *resolver = zactor_new (meshq_resolver_actor, &args);
    char index[8], error[256], endpoints[1024];
    for (int round = 0; round < 2; round++) {
        s_answer (resolver, index, error, endpoints, sizeof endpoints);
        cr_expect_str_eq (index, "0");
        cr_expect_str_eq (error, "");
        //  In the family asked for only (no [::1]), each address once.
        cr_expect_str_eq (endpoints, "tcp://127.0.0.1:5681");
        s_answer (resolver, index, error, endpoints, sizeof endpoints);
        cr_expect_str_eq (index, "1");
        cr_expect_str_eq (endpoints, "tcp://127.0.0.7:1");
        s_answer (resolver, index, error, endpoints, sizeof endpoints);
        cr_expect_str_eq (index, "2");
        cr_expect_neq (strlen (error), 0, "an unknown name has a reason");
        cr_expect_str_eq (endpoints, "");
    }
    zactor_destroy (&resolver);
}

Test (resolver, resolves_in_the_mesh_family)
{
    const char *hosts[] = {"::1"};
    const uint16_t ports[] = {5681};
    meshq_resolver_args_t args = {.hosts = hosts,
                                  .ports = ports,
                                  .count = 1,
                                  .family = AF_INET6,
                                  .interval_ms = 60000};
    zactor_t *resolver = zactor_new (meshq_resolver_actor, &args);
    char index[8], error[256], endpoints[1024];
    s_answer (resolver, index, error, endpoints, sizeof endpoints);
    cr_expect_str_eq (error, "");
    cr_expect_str_eq (endpoints, "tcp://[::1]:5681");
    //  Stopping does not wait for the next round, a minute away.
    zactor_destroy (&resolver);
}
