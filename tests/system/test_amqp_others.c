/*  test_amqp_others.c - RabbitMQ clients and tools other than pika and
    rabbitmq-c's library against a meshq-agent process: Bunny (Ruby),
    py-amqp and kombu (Python, under Celery), rabbitmq-c's command-line
    tools (amqp-publish, amqp-get, amqp-consume) and rabbitmqadmin over
    the agent's HTTP API. Each is what a team moving from RabbitMQ
    already runs; none may need a change to work.
*/
#include "amqp_suite.h"

static int s_http;  //  Node 0's HTTP port.

//  Starts node 0 alone, with its AMQP and HTTP ports.
static void
s_start (void)
{
    s_http = testutil_free_port ();
    cr_assert_gt (s_http, 0);
    char amqp[64], http[64];
    snprintf (amqp, sizeof amqp, "127.0.0.1:%d", s_amqp[0]);
    snprintf (http, sizeof http, "127.0.0.1:%d", s_http);
    procutil_node_start (
        &s_nodes[0], s_dir, s_mesh, "", NULL,
        (const char *[]){"--no-beacon", "--amqp", amqp, "--http", http, NULL});
}

//  Runs argv to its end; expects exit 0 and returns it.
static procutil_prog_t *
s_run_ok (const char *const *argv)
{
    procutil_prog_t *proc = s_spawn (argv, NULL);
    int code = procutil_prog_exit_code (proc);
    cr_assert_eq (code, 0, "%s exited %d:\n%s", proc->name, code, proc->output);
    return proc;
}

//  Skips the test if the shell command fails (a client not installed).
static void
s_need (const char *command, const char *package)
{
    char line[256];
    snprintf (line, sizeof line, "%s >/dev/null 2>&1", command);
    if (system (line) != 0)
        cr_skip_test ("%s is not installed (make deps)", package);
}

Test (amqp, bunny_confirms_acks_and_pop_of_its_exclusive_queue)
{
    s_need ("ruby -e 'require \"bunny\"'", "ruby-bunny");
    s_start ();
    char script[512], port[16];
    snprintf (script, sizeof script, "%s/system/amqp_others.rb",
              MESHQ_TEST_SOURCE_DIR);
    snprintf (port, sizeof port, "%d", s_amqp[0]);
    procutil_prog_t *proc = s_run_ok (S_ARGS ("/usr/bin/ruby", script, port));
    cr_expect (strstr (proc->output, "bunny consumed 10 in order true"), "%s",
               proc->output);
    cr_expect (strstr (proc->output, "bunny popped fanned"), "%s",
               proc->output);
}

Test (amqp, py_amqp_and_kombu)
{
    s_need (S_PYTHON " -c 'import amqp, kombu'", "python3-kombu");
    s_start ();
    char script[512], port[16];
    snprintf (script, sizeof script, "%s/system/amqp_others.py",
              MESHQ_TEST_SOURCE_DIR);
    snprintf (port, sizeof port, "%d", s_amqp[0]);
    procutil_prog_t *proc =
        s_run_ok (S_ARGS (S_PYTHON, script, "pyamqp", port));
    cr_expect (strstr (proc->output, "pyamqp consumed 10 in order True"), "%s",
               proc->output);
    cr_expect (strstr (proc->output, "pyamqp get after None"), "%s",
               proc->output);
    proc = s_run_ok (S_ARGS (S_PYTHON, script, "kombu", port));
    cr_expect (strstr (proc->output, "kombu consumed [0, 1, 2, 3, 4]"), "%s",
               proc->output);
    cr_expect (strstr (proc->output, "kombu simple {'x': 1}"), "%s",
               proc->output);
}

Test (amqp, rabbitmq_c_command_line_tools)
{
    s_need ("command -v amqp-publish", "amqp-tools");
    s_start ();
    char url[64], script[1024];
    snprintf (url, sizeof url, "amqp://guest:guest@127.0.0.1:%d/", s_amqp[0]);
    snprintf (script, sizeof script,
              "set -e; u=%s\n"
              "amqp-declare-queue --url $u -d -q tools\n"
              "echo one | amqp-publish --url $u -r tools -p\n"
              "amqp-publish --url $u -r tools -b two\n"
              "amqp-publish --url $u -r tools -b three\n"
              "echo \"get $(amqp-get --url $u -q tools)\"\n"
              "amqp-consume --url $u -q tools -c 2 -p 1 -- sh -c 'cat; echo'\n"
              "amqp-delete-queue --url $u -q tools\n",
              url);
    procutil_prog_t *proc = s_run_ok (S_ARGS ("/bin/sh", "-c", script));
    cr_expect (strstr (proc->output, "tools\n"), "%s", proc->output);
    cr_expect (strstr (proc->output, "get one\n"), "%s", proc->output);
    cr_expect (strstr (proc->output, "two\nthree\n"), "%s", proc->output);
}

Test (amqp, rabbitmqadmin_lists_what_the_agent_holds)
{
    s_need ("command -v rabbitmqadmin", "rabbitmq-server");
    s_start ();
    s_meshq (NULL, S_ARGS ("declare_queue", "admin.q"));
    s_meshq (NULL, S_ARGS ("add_vhost", "admin_vhost"));
    s_meshq ("watchpw\n", S_ARGS ("add_user", "watcher"));
    s_meshq (NULL, S_ARGS ("set_user_tags", "watcher", "monitoring"));
    char port[16];
    snprintf (port, sizeof port, "%d", s_http);
    procutil_prog_t *proc = s_run_ok (S_ARGS (
        "/usr/bin/rabbitmqadmin", "-P", port, "-f", "tsv", "list", "queues"));
    cr_expect (strstr (proc->output, "admin.q"), "%s", proc->output);
    proc = s_run_ok (S_ARGS ("/usr/bin/rabbitmqadmin", "-P", port, "-f", "tsv",
                             "list", "vhosts"));
    cr_expect (strstr (proc->output, "admin_vhost"), "%s", proc->output);
    proc = s_run_ok (S_ARGS ("/usr/bin/rabbitmqadmin", "-P", port, "-f", "tsv",
                             "list", "users"));
    cr_expect (strstr (proc->output, "watcher\tmonitoring"), "%s",
               proc->output);
    cr_expect (strstr (proc->output, "guest\tadministrator"), "%s",
               proc->output);
    proc = s_run_ok (S_ARGS ("/usr/bin/rabbitmqadmin", "-P", port, "-f", "tsv",
                             "list", "permissions"));
    cr_expect (strstr (proc->output, "/\t.*\t.*\tguest\t.*"), "%s",
               proc->output);
    //  Users are an administrator's to list; never a password hash.
    proc = s_spawn (S_ARGS ("/usr/bin/rabbitmqadmin", "-P", port, "-u",
                            "watcher", "-p", "watchpw", "list", "users"),
                    NULL);
    cr_expect_neq (procutil_prog_exit_code (proc), 0, "%s", proc->output);
    cr_expect (strstr (proc->output, "administrator"), "%s", proc->output);
    proc =
        s_run_ok (S_ARGS ("/usr/bin/rabbitmqadmin", "-P", port, "-u", "watcher",
                          "-p", "watchpw", "-f", "tsv", "list", "vhosts"));
    cr_expect (strstr (proc->output, "admin_vhost"), "%s", proc->output);
}
