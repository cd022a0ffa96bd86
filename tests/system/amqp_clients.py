#!/usr/bin/python3
"""amqp_clients.py - pika programs making the calls of RabbitMQ's six
tutorials, its publisher-confirms tutorial and docs/FROM-RABBITMQ.md's
tutorial, as a user moving from RabbitMQ would write them, against
meshq agents' AMQP port (tests/system/test_amqp.c runs them).

    amqp_clients.py PROGRAM PORT [ARGS...]

Each prints what it did ("sent N", "received ...") and exits 0 when it
did what the tutorial does, 1 otherwise. Every wait has a deadline, so a
broken agent fails the test instead of hanging it.
"""
import sys
import time
import uuid

import pika

DEADLINE = 20  # seconds for any one thing


def connect(port, user="guest", password="guest", vhost="/"):
    params = pika.ConnectionParameters(
        host="localhost", port=port, virtual_host=vhost,
        credentials=pika.PlainCredentials(user, password),
        connection_attempts=3, retry_delay=0.5)
    return pika.BlockingConnection(params)


def publish_routed(channel, exchange, key, body, properties=None):
    """Publishes with confirms and mandatory until a queue takes it: the
    consumer's bindings reach this agent by gossip."""
    deadline = time.time() + DEADLINE
    while True:
        try:
            channel.basic_publish(exchange=exchange, routing_key=key,
                                  body=body, properties=properties,
                                  mandatory=True)
            return
        except pika.exceptions.UnroutableError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def receive(channel, queue, count, auto_ack=False):
    """Receives count messages from queue; returns their bodies."""
    bodies = []
    deadline = time.time() + DEADLINE
    for method, properties, body in channel.consume(
            queue, auto_ack=auto_ack, inactivity_timeout=1):
        if method is None:
            if time.time() > deadline:
                break
            continue
        bodies.append(body.decode())
        if not auto_ack:
            channel.basic_ack(method.delivery_tag)
        if len(bodies) == count:
            break
    channel.cancel()
    return bodies


# --------------------------------------------------------------------
#  docs/FROM-RABBITMQ.md's tutorial: my_queue, "Hello World!"

def tutorial_send(port, user="guest", password="guest", vhost="/"):
    connection = connect(port, user, password, vhost)
    channel = connection.channel()
    channel.queue_declare(queue="my_queue", durable=True)
    channel.basic_publish(exchange="", routing_key="my_queue",
                          body="Hello World!")
    print(" [x] Sent 'Hello World!'")
    connection.close()
    return True


def tutorial_receive(port, user="guest", password="guest", vhost="/"):
    connection = connect(port, user, password, vhost)
    channel = connection.channel()
    channel.queue_declare(queue="my_queue", durable=True)
    bodies = receive(channel, "my_queue", 1, auto_ack=True)
    print(" [x] Received %r" % bodies)
    connection.close()
    return bodies == ["Hello World!"]


# --------------------------------------------------------------------
#  Tutorial 1: hello world

def hello_send(port):
    connection = connect(port)
    channel = connection.channel()
    channel.queue_declare(queue="hello")
    channel.confirm_delivery()
    publish_routed(channel, "", "hello", "Hello World!")
    print("sent 1")
    connection.close()
    return True


def hello_receive(port):
    connection = connect(port)
    channel = connection.channel()
    channel.queue_declare(queue="hello")
    print("ready", flush=True)
    bodies = receive(channel, "hello", 1, auto_ack=True)
    print("received %r" % bodies)
    connection.close()
    return bodies == ["Hello World!"]


# --------------------------------------------------------------------
#  Tutorial 2: work queues, prefetch 1 and manual acks

def work_send(port, count):
    connection = connect(port)
    channel = connection.channel()
    channel.queue_declare(queue="task_queue", durable=True)
    channel.confirm_delivery()
    for i in range(int(count)):
        channel.basic_publish(
            exchange="", routing_key="task_queue", body="task %d" % i,
            properties=pika.BasicProperties(
                delivery_mode=pika.spec.PERSISTENT_DELIVERY_MODE))
    print("sent %s" % count)
    connection.close()
    return True


def work_receive(port, count):
    connection = connect(port)
    channel = connection.channel()
    channel.queue_declare(queue="task_queue", durable=True)
    channel.basic_qos(prefetch_count=1)
    seen = []
    unacked_max = [0]

    def callback(ch, method, properties, body):
        seen.append(body.decode())
        ch.basic_ack(delivery_tag=method.delivery_tag)
        if len(seen) == int(count):
            ch.stop_consuming()

    channel.basic_consume(queue="task_queue", on_message_callback=callback)
    connection.call_later(DEADLINE, channel.stop_consuming)
    channel.start_consuming()
    expected = ["task %d" % i for i in range(int(count))]
    print("received %d in order %s" % (len(seen), seen == expected))
    del unacked_max
    connection.close()
    return sorted(seen) == sorted(expected)


# --------------------------------------------------------------------
#  Tutorials 3 to 5: fanout, direct and topic exchanges

EXCHANGES = {"fanout": "logs", "direct": "direct_logs", "topic": "topic_logs"}


def logs_receive(port, kind, *keys):
    """Binds a server-named exclusive queue with keys, says ready, then
    prints what comes until it has one message per key in expect."""
    connection = connect(port)
    channel = connection.channel()
    exchange = EXCHANGES[kind]
    channel.exchange_declare(exchange=exchange, exchange_type=kind)
    result = channel.queue_declare(queue="", exclusive=True)
    queue = result.method.queue
    assert queue.startswith("amq.gen-"), queue
    for key in keys or [""]:
        channel.queue_bind(exchange=exchange, queue=queue, routing_key=key)
    print("ready %s" % queue, flush=True)
    bodies = receive(channel, queue, 1, auto_ack=True)
    print("received %r" % bodies)
    connection.close()
    return len(bodies) == 1


def logs_send(port, kind, key, body):
    connection = connect(port)
    channel = connection.channel()
    exchange = EXCHANGES[kind]
    channel.exchange_declare(exchange=exchange, exchange_type=kind)
    channel.confirm_delivery()
    publish_routed(channel, exchange, key, body)
    print("sent %s %s" % (key, body))
    connection.close()
    return True


# --------------------------------------------------------------------
#  Tutorial 6: RPC with reply_to and correlation_id

def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def rpc_server(port, count):
    connection = connect(port)
    channel = connection.channel()
    channel.queue_declare(queue="rpc_queue")
    channel.basic_qos(prefetch_count=1)
    served = [0]

    # The client's reply queue is on another agent: its declaration may
    # reach this one after the request does, so the reply goes mandatory,
    # again until a queue takes it.
    channel.confirm_delivery()

    def on_request(ch, method, props, body):
        response = fib(int(body))
        publish_routed(ch, "", props.reply_to, str(response),
                       pika.BasicProperties(
                           correlation_id=props.correlation_id))
        ch.basic_ack(delivery_tag=method.delivery_tag)
        served[0] += 1
        if served[0] == int(count):
            ch.stop_consuming()

    channel.basic_consume(queue="rpc_queue", on_message_callback=on_request)
    print("ready", flush=True)
    connection.call_later(DEADLINE, channel.stop_consuming)
    channel.start_consuming()
    print("served %d" % served[0])
    connection.close()
    return served[0] == int(count)


def rpc_client(port, count):
    connection = connect(port)
    channel = connection.channel()
    result = channel.queue_declare(queue="", exclusive=True)
    callback_queue = result.method.queue
    answers = {}

    def on_response(ch, method, props, body):
        answers[props.correlation_id] = int(body)

    channel.basic_consume(queue=callback_queue,
                          on_message_callback=on_response, auto_ack=True)
    channel.confirm_delivery()
    good = True
    for n in range(int(count)):
        corr_id = str(uuid.uuid4())
        # The server's queue may not have reached this agent yet.
        publish_routed(channel, "", "rpc_queue", str(n + 5),
                       pika.BasicProperties(reply_to=callback_queue,
                                            correlation_id=corr_id))
        deadline = time.time() + DEADLINE
        while corr_id not in answers and time.time() < deadline:
            connection.process_data_events(time_limit=0.2)
        print("fib(%d) = %r" % (n + 5, answers.get(corr_id)))
        good &= answers.get(corr_id) == fib(n + 5)
    connection.close()
    return good


# --------------------------------------------------------------------
#  Publisher confirms: one at a time, and in batches, as RabbitMQ's
#  confirms tutorial

def confirms_send(port, count):
    connection = connect(port)
    channel = connection.channel()
    channel.queue_declare(queue="confirms", durable=True)
    channel.confirm_delivery()
    persistent = pika.BasicProperties(delivery_mode=2)
    # One at a time: each publish returns once the agent confirmed it.
    half = int(count) // 2
    for i in range(half):
        channel.basic_publish(exchange="", routing_key="confirms",
                              body="m%d" % i, properties=persistent)
    print("confirmed individually %d" % half)
    connection.close()
    # In batches, on another connection: published without waiting, the
    # confirms handled as they come (Basic.Ack with multiple).
    params = pika.ConnectionParameters(host="localhost", port=port)
    state = {"acked": 0, "nacked": 0, "sent": 0}
    done = []

    def on_open(conn):
        conn.channel(on_open_callback=on_channel)

    def on_channel(ch):
        ch.confirm_delivery(on_confirm, callback=lambda frame: publish(ch))

    def publish(ch):
        for i in range(half, int(count)):
            ch.basic_publish("", "confirms", "m%d" % i, persistent)
            state["sent"] += 1

    def on_confirm(frame):
        method = frame.method
        tag = method.delivery_tag
        n = tag - state["acked"] - state["nacked"] if method.multiple else 1
        if isinstance(method, pika.spec.Basic.Ack):
            state["acked"] += n
        else:
            state["nacked"] += n
        if state["acked"] + state["nacked"] == int(count) - half:
            done.append(True)
            select.close()

    select = pika.SelectConnection(params, on_open_callback=on_open)
    select.ioloop.call_later(DEADLINE, select.ioloop.stop)
    select.add_on_close_callback(lambda c, e: select.ioloop.stop())
    select.ioloop.start()
    print("confirmed in batches %d nacked %d" % (state["acked"],
                                                 state["nacked"]))
    return done and state["nacked"] == 0


def confirms_receive(port, count):
    connection = connect(port)
    channel = connection.channel()
    channel.queue_declare(queue="confirms", durable=True)
    bodies = receive(channel, "confirms", int(count))
    print("received %d" % len(bodies))
    connection.close()
    return sorted(bodies) == sorted("m%d" % i for i in range(int(count)))


# --------------------------------------------------------------------
#  A publisher that never stops, with confirms: prints each confirmed
#  number (the test kills the agent under it)

def confirmed_publisher(port, count):
    try:
        connection = connect(port)
        channel = connection.channel()
        channel.queue_declare(queue="survivors", durable=True)
        channel.confirm_delivery()
        for i in range(int(count)):
            channel.basic_publish(exchange="", routing_key="survivors",
                                  body="s%d" % i,
                                  properties=pika.BasicProperties(
                                      delivery_mode=2))
            print("confirmed s%d" % i, flush=True)
    except pika.exceptions.AMQPError as error:
        print("stopped: %r" % error, flush=True)
    return True


def drain(port, queue):
    connection = connect(port)
    channel = connection.channel()
    channel.queue_declare(queue=queue, durable=True, passive=True)
    bodies = []
    while True:
        method, _, body = channel.basic_get(queue, auto_ack=False)
        if method is None:
            break
        bodies.append(body.decode())
        channel.basic_ack(method.delivery_tag)
    for body in bodies:
        print("got %s" % body[:40])
    print("drained %d" % len(bodies))
    connection.close()
    return True


# --------------------------------------------------------------------
#  Errors with RabbitMQ's codes

def closed_code(action):
    """Runs action; returns the reply code the agent closed with."""
    try:
        action()
    except (pika.exceptions.ChannelClosedByBroker,
            pika.exceptions.ConnectionClosedByBroker) as error:
        return error.reply_code
    return 0


def errors(port):
    connection = connect(port)
    good = True
    channel = connection.channel()
    code = closed_code(lambda: channel.queue_declare("nowhere", passive=True))
    print("passive %d" % code)
    good &= code == 404
    channel = connection.channel()
    channel.queue_declare("twice", durable=True)
    code = closed_code(lambda: channel.queue_declare("twice", durable=False))
    print("redeclare %d" % code)
    good &= code == 406
    channel = connection.channel()

    def ack_unknown():
        channel.basic_ack(delivery_tag=99)
        channel.queue_declare("twice", durable=True)

    code = closed_code(ack_unknown)
    print("unknown tag %d" % code)
    good &= code == 406
    # An exclusive queue: locked to other connections, gone with its own.
    channel = connection.channel()
    channel.queue_declare("mine", exclusive=True)
    channel.basic_publish("", "mine", b"own")
    # Its own connection may take from it, on any of its channels.
    _, _, body = channel.basic_get("mine", auto_ack=True)
    _, _, none = connection.channel().basic_get("mine", auto_ack=True)
    print("exclusive own get %s %s" % (body, none))
    good &= body == b"own" and none is None
    other = connect(port)
    code = closed_code(
        lambda: other.channel().queue_declare("mine", passive=True))
    print("exclusive locked %d" % code)
    good &= code == 405
    channel = connection.channel()
    code = closed_code(lambda: channel.tx_select())
    print("tx %d" % code)
    good &= code == 540
    deadline = time.time() + DEADLINE
    while True:
        code = closed_code(
            lambda: other.channel().queue_declare("mine", passive=True))
        if code == 404 or time.time() > deadline:
            break
        time.sleep(0.1)
    print("exclusive gone" if code == 404 else "exclusive still %d" % code)
    good &= code == 404
    # consumer_cancel_notify: the queue deleted under its consumer.
    channel = other.channel()
    channel.queue_declare("doomed")
    cancelled = []
    channel.add_on_cancel_callback(lambda frame: cancelled.append(frame))
    channel.basic_consume("doomed", lambda *a: None)
    other.channel().queue_delete("doomed")
    deadline = time.time() + DEADLINE
    while not cancelled and time.time() < deadline:
        other.process_data_events(time_limit=0.1)
    print("cancel notified" if cancelled else "no cancel")
    good &= bool(cancelled)
    # Basic.Return before the confirm: mandatory and unroutable.
    channel = other.channel()
    channel.confirm_delivery()
    try:
        channel.basic_publish("", "no-such-queue", "lost", mandatory=True)
        print("not returned")
        good = False
    except pika.exceptions.UnroutableError as error:
        print("returned %s" % error.messages[0].method.reply_text)
    other.close()
    return good


# --------------------------------------------------------------------
#  Connection.Blocked and Unblocked: the agent at its memory mark

def blocked(port):
    connection = connect(port)
    events = []
    connection.add_on_connection_blocked_callback(
        lambda conn, frame: events.append("blocked"))
    connection.add_on_connection_unblocked_callback(
        lambda conn, frame: events.append("unblocked"))
    channel = connection.channel()
    channel.queue_declare(queue="heavy")
    channel.confirm_delivery()
    body = "x" * 100000
    nacked = False
    for i in range(200):
        try:
            channel.basic_publish("", "heavy", body)
        except pika.exceptions.NackError:
            nacked = True
            break
    print("nacked" if nacked else "never nacked")
    deadline = time.time() + DEADLINE
    while "blocked" not in events and time.time() < deadline:
        connection.process_data_events(time_limit=0.1)
    print("events %s" % events)
    channel.queue_purge("heavy")
    while "unblocked" not in events and time.time() < deadline:
        connection.process_data_events(time_limit=0.1)
    print("events %s" % events)
    connection.close()
    return nacked and events == ["blocked", "unblocked"]


# --------------------------------------------------------------------
#  Acks, nacks, rejects, recover; queue arguments

def settle(port):
    connection = connect(port)
    channel = connection.channel()
    channel.queue_declare(queue="settle")
    channel.queue_purge("settle")
    channel.confirm_delivery()
    for i in range(4):
        channel.basic_publish("", "settle", "m%d" % i)
    got = [channel.basic_get("settle") for _ in range(3)]
    tags = [method.delivery_tag for method, _, _ in got]
    print("tags %s" % tags)
    channel.basic_ack(delivery_tag=tags[1], multiple=True)   # m0, m1
    channel.basic_reject(delivery_tag=tags[2], requeue=True)  # m2 back
    method, _, body = channel.basic_get("settle")
    print("again %s redelivered %s" % (body.decode(), method.redelivered))
    good = body == b"m2" and method.redelivered
    channel.basic_nack(delivery_tag=method.delivery_tag, requeue=True)
    # Recover: every unacked delivery of the channel goes back.
    method, _, body = channel.basic_get("settle")
    first = body
    channel.basic_recover(requeue=True)
    method, _, body = channel.basic_get("settle")
    print("recovered %s redelivered %s" % (body.decode(), method.redelivered))
    good &= body == first and method.redelivered
    # Get-empty once everything is acked.
    channel.basic_ack(delivery_tag=0, multiple=True)
    rest = channel.basic_get("settle", auto_ack=True)
    while rest[0] is not None:
        rest = channel.basic_get("settle", auto_ack=True)
    print("empty")
    connection.close()
    return good


def arguments(port):
    connection = connect(port)
    channel = connection.channel()
    good = True
    # x-max-length with reject-publish: the third publish is nacked.
    channel.queue_declare(queue="short", arguments={
        "x-max-length": 2, "x-overflow": "reject-publish",
        "x-queue-type": "classic"})
    channel.confirm_delivery()
    nacked = 0
    for i in range(3):
        try:
            channel.basic_publish("", "short", "m%d" % i)
        except pika.exceptions.NackError:
            nacked += 1
    print("max-length nacked %d" % nacked)
    good &= nacked == 1
    # x-message-ttl into a dead-letter exchange and routing key.
    channel.exchange_declare("dlx", exchange_type="direct")
    channel.queue_declare(queue="dead")
    channel.queue_bind("dead", "dlx", routing_key="expired")
    channel.queue_declare(queue="ttl", arguments={
        "x-message-ttl": 100, "x-dead-letter-exchange": "dlx",
        "x-dead-letter-routing-key": "expired"})
    channel.basic_publish("", "ttl", "late")
    bodies = receive(channel, "dead", 1, auto_ack=True)
    print("dead-lettered %r" % bodies)
    good &= bodies == ["late"]
    # x-max-priority: the higher priority first.
    channel.queue_declare(queue="prio", arguments={"x-max-priority": 5})
    channel.basic_publish("", "prio", "low",
                          pika.BasicProperties(priority=1))
    channel.basic_publish("", "prio", "high",
                          pika.BasicProperties(priority=5))
    method, props, body = channel.basic_get("prio", auto_ack=True)
    print("first %s priority %s" % (body.decode(), props.priority))
    good &= body == b"high"
    # A headers exchange: bound with x-match and the headers to match.
    channel.exchange_declare("by_headers", exchange_type="headers")
    channel.queue_declare(queue="pdfs")
    channel.queue_bind("pdfs", "by_headers", arguments={
        "x-match": "all", "format": "pdf", "type": "report"})
    channel.basic_publish("by_headers", "", "a report", pika.BasicProperties(
        headers={"format": "pdf", "type": "report"}))
    channel.basic_publish("by_headers", "", "a log", pika.BasicProperties(
        headers={"format": "pdf", "type": "log"}))
    bodies = receive(channel, "pdfs", 1, auto_ack=True)
    method, _, _ = channel.basic_get("pdfs")
    print("headers routed %r then %r" % (bodies, method))
    good &= bodies == ["a report"] and method is None
    # Properties come back as they went.
    channel.queue_declare(queue="props")
    sent = pika.BasicProperties(
        content_type="text/plain", content_encoding="utf-8",
        headers={"k": "v", "n": 7, "b": True}, delivery_mode=2,
        correlation_id="c1", reply_to="r1", expiration="60000",
        message_id="id1", timestamp=1700000000, type="t1", app_id="a1")
    channel.basic_publish("", "props", "p", sent)
    method, props, body = channel.basic_get("props", auto_ack=True)
    same = all(getattr(props, name) == getattr(sent, name) for name in (
        "content_type", "content_encoding", "headers", "delivery_mode",
        "correlation_id", "reply_to", "expiration", "message_id",
        "timestamp", "type", "app_id"))
    print("properties %s" % ("same" if same else "differ: %r" % props))
    good &= same
    connection.close()
    return good


def bulk_send(port, queue, count, size):
    connection = connect(port)
    channel = connection.channel()
    channel.queue_declare(queue=queue, durable=True)
    channel.confirm_delivery()
    for i in range(int(count)):
        channel.basic_publish("", queue, ("%d:" % i) + "x" * int(size))
    print("sent %s" % count)
    connection.close()
    return True


# --------------------------------------------------------------------
#  Flow control: a publisher that outruns a slow consumer

def flow_publish(port, queue, count, size):
    """Publishes count messages of size bytes, numbered, as fast as it
    can, with heartbeats every second: paused by the agent, it waits in
    basic_publish, and must not be closed for the heartbeats it could
    not send meanwhile."""
    params = pika.ConnectionParameters(
        host="localhost", port=port, heartbeat=1,
        credentials=pika.PlainCredentials("guest", "guest"))
    connection = pika.BlockingConnection(params)
    channel = connection.channel()
    channel.queue_declare(queue=queue)
    pad = "x" * int(size)
    for i in range(int(count)):
        channel.basic_publish("", queue, ("%d:" % i) + pad)
        if (i + 1) % 1000 == 0:
            print("sent %d" % (i + 1), flush=True)
    # Close waits for Close-Ok: every publish before it was taken.
    connection.close()
    print("published %s" % count, flush=True)
    return True


def flow_consume(port, queue, count, go):
    """Consumes count messages with prefetch 10, holding the first ten
    unacked until the file go exists, then acking each as it comes.
    Prints each number received more than once, and a summary."""
    import os
    connection = connect(port)
    channel = connection.channel()
    channel.queue_declare(queue=queue)
    channel.basic_qos(prefetch_count=10)
    count = int(count)
    seen = set()
    held = []
    state = {"redelivered": 0, "twice": 0}

    def on_message(ch, method, properties, body):
        number = int(body.split(b":", 1)[0])
        if number in seen:
            state["twice"] += 1
            print("twice %d" % number, flush=True)
        seen.add(number)
        if method.redelivered:
            state["redelivered"] += 1
        if held is None:
            ch.basic_ack(method.delivery_tag)
        else:
            held.append(method.delivery_tag)

    channel.basic_consume(queue, on_message)
    print("ready", flush=True)
    deadline = time.time() + 120
    while len(seen) < count and time.time() < deadline:
        connection.process_data_events(time_limit=0.1)
        if held is not None and os.path.exists(go):
            for tag in held:
                channel.basic_ack(tag)
            held = None
            print("acking", flush=True)
    print("received %d of %d twice %d redelivered %d" % (
        len(seen), count, state["twice"], state["redelivered"]), flush=True)
    connection.close()
    return len(seen) == count and state["twice"] == 0


PROGRAMS = {
    "flow_publish": flow_publish, "flow_consume": flow_consume,
    "bulk_send": bulk_send,
    "settle": settle, "arguments": arguments,
    "blocked": blocked,
    "errors": errors,
    "tutorial_send": tutorial_send, "tutorial_receive": tutorial_receive,
    "hello_send": hello_send, "hello_receive": hello_receive,
    "work_send": work_send, "work_receive": work_receive,
    "logs_send": logs_send, "logs_receive": logs_receive,
    "rpc_server": rpc_server, "rpc_client": rpc_client,
    "confirms_send": confirms_send, "confirms_receive": confirms_receive,
    "confirmed_publisher": confirmed_publisher, "drain": drain,
}

if __name__ == "__main__":
    program = PROGRAMS[sys.argv[1]]
    ok = program(int(sys.argv[2]), *sys.argv[3:])
    print("ok" if ok else "FAILED", flush=True)
    sys.exit(0 if ok else 1)
