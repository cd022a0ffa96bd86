/*  http_api_auth.c - the JSON API's answers about who may do what, in
    the shape of RabbitMQ's management API, so that its tools
    (rabbitmqadmin list vhosts, list users, list permissions) read
    them: /api/whoami, /api/vhosts, /api/users, /api/permissions.
    Users and permissions are an administrator's to see; password
    hashes are never shown.
*/
#include "http_render.h"
#include "http_text.h"

typedef struct {
    meshq_buf_t *out;
    bool first;
} s_list_t;

static void
s_tags (meshq_buf_t *out, unsigned tags)
{
    char text[128];
    meshq_auth_format_tags (tags, text, sizeof text);
    meshq_text_key_str (out, "tags", text);
}

static void
s_user (void *arg, const char *name, const meshq_user_t *user)
{
    s_list_t *list = arg;
    meshq_text_str (list->out, list->first ? "{" : ",{");
    list->first = false;
    meshq_text_key (list->out, "name", true);
    meshq_text_json_str (list->out, name);
    s_tags (list->out, user->tags);
    meshq_text_str (list->out, "}");
}

static void
s_permission (void *arg, const char *vhost, const char *user,
              const char *patterns[3])
{
    s_list_t *list = arg;
    meshq_text_str (list->out, list->first ? "{" : ",{");
    list->first = false;
    meshq_text_key (list->out, "user", true);
    meshq_text_json_str (list->out, user);
    meshq_text_key_str (list->out, "vhost", vhost);
    meshq_text_key_str (list->out, "configure", patterns[0]);
    meshq_text_key_str (list->out, "write", patterns[1]);
    meshq_text_key_str (list->out, "read", patterns[2]);
    meshq_text_str (list->out, "}");
}

static void
s_vhosts (meshq_engine_t *self, const char *only, meshq_buf_t *out)
{
    meshq_text_str (out, "[");
    bool first = true;
    meshq_vhost_t *vhost = zhashx_first (self->vhosts);
    for (; vhost; vhost = zhashx_next (self->vhosts)) {
        if (only && !meshq_auth_may_enter (self->auth, only, vhost->name))
            continue;
        uint64_t ready = 0, unacked = 0;
        meshq_queue_t *queue = zhashx_first (vhost->queues);
        for (; queue; queue = zhashx_next (vhost->queues)) {
            ready += meshq_queue_ready (queue);
            unacked += meshq_queue_unacked (queue);
        }
        meshq_text_str (out, first ? "{" : ",{");
        first = false;
        meshq_text_key (out, "name", true);
        meshq_text_json_str (out, vhost->name);
        meshq_text_key_str (out, "node", self->config.name);
        meshq_text_key_u64 (out, "queues", zhashx_size (vhost->queues));
        meshq_text_key_u64 (out, "exchanges", zhashx_size (vhost->exchanges));
        meshq_text_key_u64 (out, "messages", ready + unacked);
        meshq_text_key_u64 (out, "messages_ready", ready);
        meshq_text_key_u64 (out, "messages_unacknowledged", unacked);
        meshq_text_key_bool (out, "tracing", false);
        meshq_text_str (out, "}");
    }
    meshq_text_str (out, "]");
}

unsigned
meshq_http_api_auth (meshq_engine_t *self, const char *path, const char *user,
                     const char *only, meshq_buf_t *out)
{
    bool users = streq (path, "/api/users");
    bool permissions = streq (path, "/api/permissions");
    if (streq (path, "/api/vhosts")) {
        s_vhosts (self, only, out);
        return 200;
    }
    if (streq (path, "/api/whoami")) {
        const meshq_user_t *who = meshq_auth_user (self->auth, user);
        meshq_text_str (out, "{");
        meshq_text_key (out, "name", true);
        meshq_text_json_str (out, user);
        s_tags (out, who ? who->tags : 0);
        meshq_text_str (out, "}");
        return 200;
    }
    if (!users && !permissions)
        return 0;
    if (!meshq_auth_tagged (self->auth, user, MESHQ_TAG_ADMINISTRATOR)) {
        meshq_text_str (out, "needs a user tagged administrator\n");
        return 403;
    }
    s_list_t list = {out, true};
    meshq_text_str (out, "[");
    if (users)
        meshq_auth_each_user (self->auth, s_user, &list);
    else
        meshq_auth_each_permission (self->auth, NULL, NULL, s_permission,
                                    &list);
    meshq_text_str (out, "]");
    return 200;
}
