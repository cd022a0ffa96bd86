#!/usr/bin/python3
"""Proves that docs/PROTOCOL.md is enough to write a client.

meshq_client.py was written from the specification alone (pyzmq and
msgpack). Run against two agents of one mesh, A and B:

  across    a user made with the administrative requests publishes on
            A with confirms, single and batched; a consumer with manual
            acks on B receives every confirmed message exactly as it
            was sent (envelope byte for byte: body, properties,
            headers), once; a nack with requeue comes back redelivered;
            a mandatory message no queue takes is returned, then
            confirmed; the heartbeat socket gets PONG for its session
            and nothing for a session that does not exist.
  login     a wrong password, an unknown user and guest from afar are
            refused by the PLAIN handshake with ZAP status 400 and
            counted; the right password then gets in, its permissions
            and tags apply; a refused HELLO is answered; exchanges,
            bindings, GET, lists, a no-ack consumer and CREDIT work as
            specified.

usage: test_spec_client.py CASE ENDPOINT_A [ENDPOINT_B] [TCP_ENDPOINT_A]
Exits 0 when every check holds; prints what failed otherwise.
"""

import os
import sys
import time

import msgpack
import zmq

sys.dont_write_bytecode = True    # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from meshq_client import (  # noqa: E402
    EUNROUTABLE, Client, LoginRefused, MeshqError, encode_envelope)

DEADLINE = 20.0   # seconds for any one thing to happen in the mesh
MESSAGES = 300    # published by the producer
USER = "spec_user"
QUEUE = "spec-%d" % os.getpid()
PASSWORD = "spec secret \u00e9"


def check(condition, what, *args):
    if not condition:
        raise AssertionError(what % args if args else what)


def eventually(what, probe, deadline=DEADLINE):
    """Calls probe until it returns something true; returns that."""
    end = time.monotonic() + deadline
    while True:
        try:
            result = probe()
        except (MeshqError, LoginRefused, TimeoutError) as error:
            result, last = None, error
        else:
            last = result
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError("%s: not within %ss (last: %r)"
                                 % (what, deadline, last))
        time.sleep(0.1)


def login(endpoint, user, password, **options):
    client = Client(endpoint, user, password, timeout=5.0, **options)
    client.connect()
    return client


_made = {}


def message(i):
    """The envelope of message i: every property, headers of every
    type, a body of its own. Made once: these bytes must arrive."""
    if i in _made:
        return _made[i]
    fields = {
        "k": QUEUE,
        "ct": "application/octet-stream",
        "ce": "identity",
        "h": {
            "i": i,
            "neg": -i - 1,
            "big": 2 ** 40 + i,
            "yes": i % 2 == 0,
            "none": None,
            "pi": 3.25 + i,
            "text": "caf\u00e9 %d" % i,
            "raw": bytes([i % 256, 0, 255]),
        },
        "p": i % 10,
        "t": 1700000000000 + i,
        "c": "corr-%d" % i,
        "r": "reply-%d" % i,
        "u": USER,
        "a": "spec-client",
        "d": 2,
        "b": os.urandom(i % 64) + b"message %d" % i,
    }
    if i % 3 == 0:
        fields["e"] = 600000    # a TTL long enough never to expire here
    _made[i] = encode_envelope(fields)
    return _made[i]


def case_login(endpoint, tcp_endpoint):
    admin = login(endpoint, "guest", "guest")
    admin.request("ADD_USER", user=USER, pw=PASSWORD, tags="monitoring")
    admin.request("SET_PERMISSIONS", vhost="/", user=USER, cfg="^spec-",
                  wr=".*", rd=".*")
    before = admin.request("STATUS")

    # A wrong password, and a user nobody made: refused in the
    # handshake (ZAP 400); the session never opens.
    for user, password in ((USER, "wrong"), ("nobody", PASSWORD)):
        try:
            login(endpoint, user, password)
        except LoginRefused as refused:
            check(refused.status == 400, "%s: ZAP status %d, not 400",
                  user, refused.status)
        else:
            raise AssertionError("%s with a wrong password got in" % user)
    after = admin.request("STATUS")
    check(after["refused_pw"] >= before["refused_pw"] + 2,
          "STATUS refused_pw went from %d to %d, not up by 2",
          before["refused_pw"], after["refused_pw"])

    # guest only over ipc:// (and inproc://): over tcp:// even its
    # right password is refused.
    if tcp_endpoint:
        try:
            login(tcp_endpoint, "guest", "guest")
        except LoginRefused as refused:
            check(refused.status == 400, "guest over tcp: ZAP %d",
                  refused.status)
        else:
            raise AssertionError("guest got in over tcp://")
        # The new user may log in over tcp://.
        login(tcp_endpoint, USER, PASSWORD).close()

    # The right password gets in; the permissions apply.
    client = login(endpoint, USER, PASSWORD)
    check(client.hello["maxmsg"] > 0 and len(client.hello["node"]) == 32,
          "HELLO results %r", client.hello)
    try:
        client.request("DECLARE_QUEUE", q="other")
        raise AssertionError("configure outside ^spec- allowed")
    except MeshqError as error:
        check(error.code == -17, "DECLARE_QUEUE other: %s", error)
    client.request("DECLARE_QUEUE", q="spec-login", dur=False)
    # monitoring may list, not change.
    users = client.request("LIST_USERS")["users"]
    check({"user": USER, "tags": "monitoring"} in users, "LIST_USERS %r",
          users)
    try:
        client.request("ADD_VHOST", vhost="nope")
        raise AssertionError("a monitoring user added a vhost")
    except MeshqError as error:
        check(error.code == -17, "ADD_VHOST: %s", error)
    # A vhost it has no permissions in: refused at HELLO.
    admin.request("ADD_VHOST", vhost="spec-vhost")
    try:
        login(endpoint, USER, PASSWORD, vhost="spec-vhost")
        raise AssertionError("HELLO into a vhost without permissions")
    except MeshqError as error:
        check(error.code == -17, "HELLO spec-vhost: %s", error)
    try:
        login(endpoint, USER, PASSWORD, vhost="missing")
        raise AssertionError("HELLO into a missing vhost")
    except MeshqError as error:
        check(error.code == -15, "HELLO missing: %s", error)
    refused_hello_answered(endpoint, admin)
    requests_checks(client)
    client.close()
    admin.close()
    print("ok: login")


def refused_hello_answered(endpoint, admin):
    """A refused HELLO is answered ERROR even when it arrives in the
    same turn as another session's durable declaration, whose OK waits
    for the commit (section 3.2): it used to be dropped then."""
    context = zmq.Context.instance()
    for i in range(20):
        hello = context.socket(zmq.DEALER)
        hello.linger = 0
        hello.setsockopt(zmq.ROUTING_ID, os.urandom(16))
        hello.plain_username = USER.encode()
        hello.plain_password = PASSWORD.encode()
        hello.connect(endpoint)
        # Logged in and connected: a PING without sid is answered.
        hello.send_multipart([b"PING", msgpack.packb({})])
        check(hello.poll(5000), "no PONG before HELLO %d", i)
        hello.recv_multipart()
        admin.send("DECLARE_QUEUE", {"rid": 1000 + i, "q": "spec-held-%d" % i,
                                     "dur": True})
        hello.send_multipart([b"HELLO", msgpack.packb(
            {"rid": 1, "vhost": "missing"})])
        check(hello.poll(5000), "HELLO %d into a missing vhost: no answer", i)
        verb, args = hello.recv_multipart()
        check(verb == b"ERROR" and msgpack.unpackb(args)["code"] == -15,
              "HELLO %d into a missing vhost: %r %r", i, verb, args)
        hello.close()
        check(admin.socket.poll(5000), "no answer to DECLARE_QUEUE %d", i)
        verb, args = admin.socket.recv_multipart()
        check(verb == b"OK", "DECLARE_QUEUE %d: %r", i, args)


def requests_checks(client):
    """Exchanges, bindings, GET in its single form, lists, a no-ack
    consumer and its CREDIT (section 3.3, 3.4)."""
    client.request("DECLARE_EXCHANGE", x="spec-x", type="topic", dur=False)
    try:
        client.request("DECLARE_EXCHANGE", x="spec-x", type="fanout",
                       dur=False)
        raise AssertionError("an exchange redeclared with another type")
    except MeshqError as error:
        check(error.code == -16, "DECLARE_EXCHANGE fanout: %s", error)
    client.request("DECLARE_QUEUE", q="spec-get", dur=False)
    client.request("BIND", q="spec-get", x="spec-x", k="a.*")
    bindings = client.request("LIST_BINDINGS")["bindings"]
    check({"x": "spec-x", "q": "spec-get", "k": "a.*"} in bindings,
          "LIST_BINDINGS %r", bindings)
    exchanges = client.request("LIST_EXCHANGES")["exchanges"]
    check({"x": "spec-x", "type": "topic", "dur": False} in exchanges,
          "LIST_EXCHANGES %r", exchanges)
    sent = encode_envelope({"x": "spec-x", "k": "a.b", "h": {"n": 1},
                            "b": b"by the exchange"})
    client.publish(sent)
    client.wait_for_confirms()
    got = client.request("GET", q="spec-get")
    check(got.get("_envelope") == sent and got["q"] == "spec-get" and
          got["n"] == 1 and len(got["o"]) == 16 and "dt" in got,
          "GET answered %r", got)
    client.ack(got["dt"])
    check(client.request("GET", q="spec-get").get("empty") is True,
          "GET of an empty queue is not empty")
    client.request("UNBIND", q="spec-get", x="spec-x", k="a.*")
    try:
        client.request("UNBIND", q="spec-get", x="spec-x", k="a.*")
        raise AssertionError("a missing binding unbound")
    except MeshqError as error:
        check(error.code == -15, "UNBIND twice: %s", error)
    client.request("DELETE_EXCHANGE", x="spec-x")

    # A no-ack consumer: its deliveries count against its prefetch
    # until CREDIT gives them back.
    for i in range(4):
        client.publish(encode_envelope({"k": "spec-get", "b": b"%d" % i}))
    client.wait_for_confirms()
    tag = client.request("CONSUME", q="spec-get", pf=2, noack=True)["tag"]
    check(tag.startswith("ctag-"), "the agent's consumer tag %r", tag)
    first = [client.recv(), client.recv()]
    check(None not in first, "two no-ack deliveries did not come")
    check(client.recv(0.5) is None, "a third before CREDIT: prefetch broken")
    consumers = client.request("LIST_CONSUMERS")["consumers"]
    check(any(row["tag"] == tag and row["pf"] == 2 for row in consumers),
          "LIST_CONSUMERS %r", consumers)
    client.send("CREDIT", {"tag": tag, "credit": 2})
    rest = [client.recv(), client.recv()]
    check(None not in rest, "no deliveries after CREDIT")
    check([d.fields()["b"] for d in first + rest] == [b"0", b"1", b"2", b"3"],
          "no-ack deliveries out of order")
    client.request("CANCEL", tag=tag)
    purged = client.request("PURGE_QUEUE", q="spec-get")
    check(purged["msgs"] == 0, "PURGE_QUEUE of an empty queue: %r", purged)
    client.request("DELETE_QUEUE", q="spec-get")
    check(not client.errors, "errors: %r", client.errors)

    # A batched PUBLISH whose count its bytes cannot hold is refused
    # whole: each of its sequence numbers is nacked, none is counted
    # as confirmed by the next CONFIRM.
    client.request("DECLARE_QUEUE", q="spec-batch", dur=False)
    first = client.next_seq + 1
    client.next_seq += 3
    client.send("PUBLISH", {"seq": first, "nb": 3}, b"\x92\xc2\xc4")
    good = client.publish(encode_envelope({"k": "spec-batch", "b": b"ok"}))
    client.wait_for_confirms()
    for seq in range(first, first + 3):
        check(client.nacked.get(seq, (None,))[0] == -11,
              "publish %d of a broken batch: %r", seq, client.nacked)
    check(good not in client.nacked, "the good publish was nacked")
    client.errors.clear()
    client.request("DELETE_QUEUE", q="spec-batch")

    # The one-frame form (section 2): confirmed and delivered as the
    # three frames are.
    client.request("DECLARE_QUEUE", q="spec-one", dur=False)
    for i in range(3):
        client.publish(encode_envelope({"k": "spec-one", "b": b"%d" % i}),
                       one_frame=(i != 1))
    client.wait_for_confirms()
    tag = client.request("CONSUME", q="spec-one", pf=10, noack=True)["tag"]
    got = [client.recv() for i in range(3)]
    check(None not in got, "one-frame publishes did not come")
    check([d.fields()["b"] for d in got] == [b"0", b"1", b"2"],
          "one-frame and three-frame publishes out of order")
    client.request("CANCEL", tag=tag)
    client.request("DELETE_QUEUE", q="spec-one")
    check(not client.errors, "errors: %r", client.errors)


def heartbeat_checks(client):
    """A PING naming the session is answered; one naming no session is
    not (section 3.2)."""
    eventually("PONG for the session",
               lambda: client.heartbeat.pongs > 0 and client.heartbeat.alive())
    stranger = client.context.socket(zmq.DEALER)
    stranger.linger = 0
    stranger.plain_username = client.user.encode()
    stranger.plain_password = client.password.encode()
    stranger.connect(client.endpoint)
    stranger.send_multipart([b"PING", msgpack.packb({"sid": os.urandom(16)})])
    check(not stranger.poll(1500), "PONG for a session that does not exist")
    stranger.send_multipart([b"PING", msgpack.packb({"sid": client.sid})])
    check(stranger.poll(5000), "no PONG for the session")
    check(stranger.recv_multipart() == [b"PONG", b"\x80"], "PONG not {}")
    stranger.close()


def case_across(endpoint_a, endpoint_b):
    admin_a = login(endpoint_a, "guest", "guest")
    admin_a.request("ADD_USER", user=USER, pw=PASSWORD, tags="")
    admin_a.request("SET_PERMISSIONS", vhost="/", user=USER, cfg=".*",
                    wr=".*", rd=".*")
    admin_b = login(endpoint_b, "guest", "guest")
    eventually("A and B in one mesh",
               lambda: admin_a.request("STATUS").get("peers_up", 0) >= 1
               and admin_b.request("STATUS").get("peers_up", 0) >= 1)
    # Users are records of the mesh: B learns this one from A.
    consumer = eventually(
        "B lets %s in" % USER,
        lambda: login(endpoint_b, USER, PASSWORD, batch=64,
                      heartbeat_ms=500))
    producer = login(endpoint_a, USER, PASSWORD)
    node_a = bytes.fromhex(producer.hello["node"])
    check(producer.hello.get("nb", 1) >= 2, "A takes no batched publishes")
    heartbeat_checks(producer)

    for client in (producer, consumer):
        result = client.request("DECLARE_QUEUE", q=QUEUE, dur=True)
        check(result["q"] == QUEUE, "DECLARE_QUEUE answered %r", result)
    tag = consumer.request("CONSUME", q=QUEUE, pf=50, tag="spec")["tag"]
    check(tag == "spec", "CONSUME tag %r", tag)

    # Publish with confirms: single frames, then batches of 25.
    sent = {}
    for i in range(MESSAGES // 2):
        sent[producer.publish(message(i))] = i
    for first in range(MESSAGES // 2, MESSAGES, 25):
        envelopes = [message(i) for i in range(first, first + 25)]
        for seq, i in zip(producer.publish_batch(envelopes),
                          range(first, first + 25)):
            sent[seq] = i
    producer.wait_for_confirms(DEADLINE)
    check(not producer.nacked, "publishes refused: %r", producer.nacked)
    check(not producer.errors, "errors: %r", producer.errors)
    check(producer.confirmed == MESSAGES, "confirmed up to %d of %d",
          producer.confirmed, MESSAGES)

    # Consume on B with manual acks: each message once, byte for byte.
    received = {}
    requeued = None
    pending_acks = []
    end = time.monotonic() + DEADLINE * 2
    while len(received) < MESSAGES:
        check(time.monotonic() < end, "%d of %d messages arrived",
              len(received), MESSAGES)
        delivery = consumer.recv(1.0)
        if delivery is None:
            continue
        fields = delivery.fields()
        i = fields["h"]["i"]
        check(delivery.envelope == message(i),
              "message %d differs from what was sent: %r", i, fields)
        check(delivery.tag == "spec" and delivery.queue == QUEUE,
              "delivery of %d: tag %r queue %r", i, delivery.tag,
              delivery.queue)
        check(delivery.origin == node_a, "message %d: origin %r, not A's",
              i, delivery.origin)
        if requeued is None:
            # The first one goes back once: it must come again, marked.
            check(delivery.n == 1 and not delivery.red,
                  "first delivery of %d: n=%d red=%r", i, delivery.n,
                  delivery.red)
            requeued = (i, delivery.seq)
            consumer.nack(delivery.dt, requeue=True)
            continue
        if i == requeued[0]:
            check(delivery.red and delivery.n == 2 and
                  delivery.seq == requeued[1],
                  "requeued %d came back with red=%r n=%d seq=%d", i,
                  delivery.red, delivery.n, delivery.seq)
        else:
            check(delivery.n == 1 and not delivery.red,
                  "message %d: n=%d red=%r", i, delivery.n, delivery.red)
        check(i not in received, "message %d delivered twice", i)
        received[i] = delivery.seq
        # Acks three ways: single, several in one frame, multiple.
        if i % 3 == 0:
            consumer.ack(delivery.dt)
        else:
            pending_acks.append(delivery.dt)
            if len(pending_acks) == 8:
                consumer.ack_many(pending_acks)
                pending_acks = []
    if pending_acks:
        consumer.ack(max(pending_acks), multiple=True)
    check(sorted(received) == sorted(sent.values()),
          "received %d distinct messages of %d", len(received), len(sent))
    check(consumer.recv(1.0) is None, "a delivery after all were acked")
    check(not consumer.errors, "consumer errors: %r", consumer.errors)

    def settled():
        rows = [row for row in admin_a.request("LIST_QUEUES")["queues"]
                if row["q"] == QUEUE and row.get("name") == "n1"]
        return rows and rows[0]["msgs"] == 0 and rows[0]["unacked"] == 0
    eventually("A's queue empty and settled", settled)

    # A mandatory message no queue takes comes back, before its confirm.
    lost = encode_envelope({"k": "spec-nowhere-%d" % os.getpid(),
                            "b": b"lost"})
    seq = producer.publish(lost, mandatory=True)
    producer.wait_for_confirms(DEADLINE)
    check(producer.returned == [(seq, EUNROUTABLE, "NO_ROUTE", lost)],
          "RETURN: %r", producer.returned)
    check(not producer.nacked, "the returned message was nacked")

    # A publish whose user id is not the session's user is refused.
    seq = producer.publish(encode_envelope({"k": QUEUE, "u": "guest"}))
    producer.wait_for_confirms(DEADLINE)
    check(producer.nacked.get(seq, (None,))[0] == -16,
          "user id of another user: %r", producer.nacked)

    consumer.request("CANCEL", tag="spec")
    deleted = admin_a.request("DELETE_QUEUE", q=QUEUE)
    check("msgs" in deleted, "DELETE_QUEUE answered %r", deleted)
    for client in (producer, consumer, admin_a, admin_b):
        client.close()
    print("ok: across: %d messages published on A with confirms, "
          "consumed on B with acks, each once and byte for byte" % MESSAGES)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    case = sys.argv[1]
    if case == "login":
        case_login(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    elif case == "across" and len(sys.argv) > 3:
        case_across(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
