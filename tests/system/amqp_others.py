"""AMQP clients other than pika against a meshq agent: py-amqp (the
client under Celery's kombu) and kombu itself. Each program prints what
it saw and exits 0 only if all of it was as RabbitMQ would have it.

    amqp_others.py PROGRAM PORT
"""
import sys

DEADLINE = 10


def pyamqp(port):
    import amqp
    with amqp.Connection("127.0.0.1:%d" % port, userid="guest",
                         password="guest", confirm_publish=True) as conn:
        channel = conn.channel()
        channel.queue_declare("pyamqp", durable=True, auto_delete=False)
        channel.exchange_declare("pyamqp.topic", "topic", durable=True,
                                 auto_delete=False)
        channel.queue_bind("pyamqp", "pyamqp.topic", "a.*")
        for i in range(10):
            message = amqp.Message("m%d" % i, delivery_mode=2,
                                   application_headers={"n": i})
            channel.basic_publish(message, exchange="pyamqp.topic",
                                  routing_key="a.b")
        got = []

        def on_message(message):
            got.append((message.body, message.headers["n"]))
            channel.basic_ack(message.delivery_tag)

        channel.basic_qos(0, 5, False)
        tag = channel.basic_consume("pyamqp", callback=on_message)
        while len(got) < 10:
            conn.drain_events(timeout=DEADLINE)
        channel.basic_cancel(tag)
        print("pyamqp consumed %d in order %s" %
              (len(got), got == [("m%d" % i, i) for i in range(10)]))
        print("pyamqp get after %s" % channel.basic_get("pyamqp"))
        channel.queue_delete("pyamqp")
        channel.exchange_delete("pyamqp.topic")
        return len(got) == 10


def kombu(port):
    from kombu import Connection, Exchange, Queue
    exchange = Exchange("kombu.direct", "direct", durable=True)
    queue = Queue("kombu", exchange, routing_key="kombu")
    with Connection("amqp://guest:guest@127.0.0.1:%d//" % port) as conn:
        producer = conn.Producer(serializer="json")
        for i in range(5):
            producer.publish({"n": i}, exchange=exchange, routing_key="kombu",
                             declare=[queue])
        got = []

        def on_message(body, message):
            got.append(body["n"])
            message.ack()

        with conn.Consumer(queue, callbacks=[on_message]):
            while len(got) < 5:
                conn.drain_events(timeout=DEADLINE)
        print("kombu consumed %s" % got)
        simple = conn.SimpleQueue("kombu.simple")
        simple.put({"x": 1})
        message = simple.get(timeout=DEADLINE)
        print("kombu simple %s" % message.payload)
        message.ack()
        simple.close()
        return got == list(range(5)) and message.payload == {"x": 1}


if __name__ == "__main__":
    ok = globals()[sys.argv[1]](int(sys.argv[2]))
    sys.exit(0 if ok else 1)
