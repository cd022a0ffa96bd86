/*  verifier.c - checks passwords on a thread of its own.

    A password hash (Argon2id through libsodium's crypto_pwhash_str,
    with its interactive limits) takes tens of milliseconds and 64 MiB
    to check, on purpose. The agent's loop must not stall for that, so
    it hands each check to this actor and carries on:

        zsock_send (verifier, "sfsf", "VERIFY", token, hash, password);
        //  later, readable on the same pipe:
        zsock_recv (verifier, "sfi", &command, &token, &ok);

    Passwords never leave memory and are wiped after use.
*/
#include "verifier.h"
#include "auth.h"

#include <sodium.h>

void
meshq_verifier_actor (zsock_t *pipe, void *args)
{
    (void)args;
    pthread_setname_np (pthread_self (), "meshq-verify");
    zsock_signal (pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break;
        char *command = zmsg_popstr (msg);
        if (!command || streq (command, "$TERM")) {
            zstr_free (&command);
            zmsg_destroy (&msg);
            break;
        }
        assert (streq (command, "VERIFY"));
        zframe_t *token = zmsg_pop (msg);
        char *hash = zmsg_popstr (msg);
        zframe_t *password = zmsg_pop (msg);
        int ok;
        if (hash && password && streq (hash, MESHQ_AUTH_GUEST_HASH))
            ok = zframe_size (password) == 5 &&
                 sodium_memcmp (zframe_data (password), "guest", 5) == 0;
        else
            ok = hash && password &&
                 crypto_pwhash_str_verify (hash,
                                           (const char *)zframe_data (password),
                                           zframe_size (password)) == 0;
        if (password)
            sodium_memzero (zframe_data (password), zframe_size (password));
        zsock_send (pipe, "sfi", "RESULT", token, ok);
        zframe_destroy (&token);
        zframe_destroy (&password);
        zstr_free (&hash);
        zstr_free (&command);
        zmsg_destroy (&msg);
    }
}
