"""A client of meshq's native protocol, written from docs/PROTOCOL.md.

It uses nothing but pyzmq and msgpack (Debian: python3-zmq,
python3-msgpack): no meshq library, no meshq header. Section numbers
below are those of docs/PROTOCOL.md. It is small on purpose: what it
does is what the specification says a client must do, so that a test
using it proves the specification is enough.

    client = Client("ipc:///tmp/meshq-agent.ipc", "guest", "guest")
    client.connect()
    client.request("DECLARE_QUEUE", q="jobs", dur=True)
    seq = client.publish(encode_envelope({"k": "jobs", "b": b"hi"}))
    client.wait_for_confirms([seq])
    client.request("CONSUME", q="jobs", pf=10)
    delivery = client.recv()
    client.ack(delivery.dt)
    client.close()
"""

import os
import threading
import time

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

# Section 3.6: the codes of ERROR, NACK and RETURN.
CODES = {
    -1: "MESHQ_EINVAL",
    -2: "MESHQ_ENOMEM",
    -3: "MESHQ_ETRUNCATED",
    -4: "MESHQ_ETOOBIG",
    -5: "MESHQ_ETYPE",
    -6: "MESHQ_ERANGE",
    -7: "MESHQ_EDUPKEY",
    -8: "MESHQ_EDEPTH",
    -9: "MESHQ_EMSGSIZE",
    -10: "MESHQ_EVERSION",
    -11: "MESHQ_EMALFORMED",
    -12: "MESHQ_EIO",
    -13: "MESHQ_EFULL",
    -14: "MESHQ_ECORRUPT",
    -15: "MESHQ_ENOTFOUND",
    -16: "MESHQ_EPRECONDITION",
    -17: "MESHQ_EACCESS",
    -18: "MESHQ_ELIMIT",
    -19: "MESHQ_ECONNLOST",
    -20: "MESHQ_ETIMEOUT",
    -21: "MESHQ_EEXIST",
    -22: "MESHQ_ENOTSUP",
    -23: "MESHQ_EAGAIN",
    -24: "MESHQ_EUNROUTABLE",
    -25: "MESHQ_ESTATE",
    -26: "MESHQ_EINTR",
}
EUNROUTABLE = -24

# Section 1.1: the envelope's keys, in the order a writer must use.
ENVELOPE_KEYS = ("v", "o", "s", "x", "k", "ct", "ce", "h", "p", "t", "e",
                 "c", "r", "u", "a", "d", "n", "b")


class MeshqError(Exception):
    """An ERROR from the agent: code (negative) and why."""

    def __init__(self, code, why):
        super().__init__("%s (%s): %s" % (CODES.get(code, "?"), code, why))
        self.code = code
        self.why = why


class LoginRefused(Exception):
    """The ZeroMQ PLAIN handshake failed (section 3.2): status is the
    agent's ZAP status code, 400 (refused) or 300 (try again later)."""

    def __init__(self, status):
        super().__init__("login refused, ZAP status %d" % status)
        self.status = status


def encode_envelope(fields):
    """Section 1: an envelope from a dict of its keys (v is added). The
    keys go in table order; msgpack writes the shortest forms."""
    unknown = set(fields) - set(ENVELOPE_KEYS)
    if unknown:
        raise ValueError("not envelope keys: %s" % sorted(unknown))
    ordered = {"v": 1}
    for key in ENVELOPE_KEYS[1:]:
        if key in fields:
            ordered[key] = fields[key]
    return msgpack.packb(ordered, use_bin_type=True)


def decode_envelope(data):
    """An envelope's keys as a dict (str as str, bin as bytes)."""
    fields = msgpack.unpackb(data, raw=False)
    if not isinstance(fields, dict) or fields.get("v") != 1:
        raise ValueError("not an envelope of version 1")
    return fields


class Delivery:
    """One message given to this client (section 3.4): its delivery
    tag dt, consumer tag, queue, origin node and message sequence, its
    delivery count n, whether it was redelivered, and the envelope as
    the publisher sent it."""

    def __init__(self, tag, queue, origin, dt, seq, n, red, envelope):
        self.tag = tag
        self.queue = queue
        self.origin = origin
        self.dt = dt
        self.seq = seq
        self.n = n
        self.red = red
        self.envelope = envelope

    def fields(self):
        return decode_envelope(self.envelope)


def _pack(args):
    return msgpack.packb(args, use_bin_type=True)


def _unpack(data):
    return msgpack.unpackb(data, raw=False)


class _Heartbeat(threading.Thread):
    """Section 3.2: PING {sid} every hb ms from a second socket, which
    logs in as the session does. No PONG for three intervals: the
    session is gone."""

    def __init__(self, context, endpoint, user, password, sid, interval_ms):
        super().__init__(daemon=True)
        self.socket = context.socket(zmq.DEALER)
        self.socket.linger = 0
        self.socket.plain_username = user.encode()
        self.socket.plain_password = password.encode()
        self.socket.connect(endpoint)
        self.ping = _pack({"sid": sid})
        self.interval = interval_ms / 1000.0
        self.last_pong = time.monotonic()
        self.pongs = 0
        self.stopping = threading.Event()

    def run(self):
        poller = zmq.Poller()
        poller.register(self.socket, zmq.POLLIN)
        next_ping = time.monotonic()
        while not self.stopping.is_set():
            now = time.monotonic()
            if now >= next_ping:
                self.socket.send_multipart([b"PING", self.ping],
                                           flags=zmq.NOBLOCK)
                next_ping = now + self.interval
            for _ in poller.poll(max(1, int((next_ping - now) * 1000))):
                frames = self.socket.recv_multipart()
                if frames[0] == b"PONG":
                    self.last_pong = time.monotonic()
                    self.pongs += 1
        self.socket.close()

    def alive(self):
        return time.monotonic() - self.last_pong < 3 * self.interval


class Client:
    """One session with one agent (section 3.2)."""

    def __init__(self, endpoint, user="guest", password="guest", vhost="/",
                 heartbeat_ms=1000, batch=0, timeout=10.0):
        self.endpoint = endpoint
        self.user = user
        self.password = password
        self.vhost = vhost
        self.heartbeat_ms = heartbeat_ms
        self.batch = batch
        self.timeout = timeout
        self.context = zmq.Context.instance()
        self.socket = None
        self.heartbeat = None
        self.sid = os.urandom(16)
        self.next_rid = 0
        self.next_seq = 0        # Sequence of the last confirmed publish.
        self.confirmed = 0       # Every publish up to this is answered.
        self.nacked = {}         # seq: (code, why) of refused publishes.
        self.returned = []       # (seq, code, why, envelope) of RETURNs.
        self.errors = []         # (code, why) of ERRORs with rid 0.
        self.ready = []          # Deliveries not yet taken by recv.
        self.blocked = None      # BLOCKED's why, until UNBLOCKED.
        self.hello = None        # HELLO's results: maxmsg, name, node, nb, one.

    # ----------------------------------------------------------------
    #  Connecting

    def connect(self):
        """Logs in (PLAIN) and says HELLO. Raises LoginRefused if the
        handshake fails, MeshqError if HELLO gets ERROR, TimeoutError if
        nothing answers."""
        socket = self.context.socket(zmq.DEALER)
        socket.linger = 0
        # The session id is the routing id: 16 bytes.
        socket.setsockopt(zmq.ROUTING_ID, self.sid)
        socket.plain_username = self.user.encode()
        socket.plain_password = self.password.encode()
        # A refused login closes the connection without a frame; the
        # socket monitor tells, with the ZAP status code.
        monitor = socket.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        socket.connect(self.endpoint)
        self.socket = socket
        args = {"sid": self.sid, "hb": self.heartbeat_ms, "vhost": self.vhost}
        if self.batch > 1:
            args["nb"] = self.batch
        try:
            self.hello = self._call("HELLO", args, monitor=monitor)
        except BaseException:
            socket.disable_monitor()
            monitor.close()
            socket.close()
            self.socket = None
            raise
        socket.disable_monitor()
        monitor.close()
        self.heartbeat = _Heartbeat(self.context, self.endpoint, self.user,
                                    self.password, self.sid,
                                    self.heartbeat_ms)
        self.heartbeat.start()
        return self.hello

    def close(self):
        """BYE, then closes both sockets."""
        if self.socket is not None:
            self.socket.send_multipart([b"BYE", _pack({})])
            self.socket.close()
            self.socket = None
        if self.heartbeat is not None:
            self.heartbeat.stopping.set()
            self.heartbeat.join()
            self.heartbeat = None

    # ----------------------------------------------------------------
    #  Frames

    def send(self, verb, args, envelope=None):
        frames = [verb.encode(), _pack(args)]
        if envelope is not None:
            frames.append(envelope)
        self.socket.send_multipart(frames)

    def _handle(self, frames):
        """A frame that answers no request (section 3.4)."""
        verb = frames[0].decode()
        args = _unpack(frames[1])
        body = frames[2] if len(frames) > 2 else None
        if verb == "DELIVER":
            self._deliver(args, body)
        elif verb == "CONFIRM":
            self.confirmed = max(self.confirmed, args["upto"])
        elif verb == "NACK":
            self.nacked[args["seq"]] = (args.get("code"), args.get("why"))
        elif verb == "RETURN":
            self.returned.append((args.get("seq"), args.get("code"),
                                  args.get("why"), body))
        elif verb == "BLOCKED":
            self.blocked = args.get("why", "")
        elif verb == "UNBLOCKED":
            self.blocked = None
        elif verb == "ERROR":
            self.errors.append((args.get("code"), args.get("why")))
        else:
            raise AssertionError("unexpected frame %s %r" % (verb, args))

    def _deliver(self, args, body):
        tag, queue, origin = args.get("tag"), args.get("q"), args.get("o")
        if "nb" not in args:
            self.ready.append(Delivery(tag, queue, origin, args["dt"],
                                       args["seq"], args["n"],
                                       args.get("red", False), body))
            return
        # Batched: nb items back to back, [dt, seq, n, red, envelope].
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(body)
        items = list(unpacker)
        if len(items) != args["nb"]:
            raise AssertionError("DELIVER says nb=%d, holds %d items"
                                 % (args["nb"], len(items)))
        for dt, seq, n, red, envelope in items:
            self.ready.append(Delivery(tag, queue, origin, dt, seq, n, red,
                                       envelope))

    def poll(self, timeout):
        """Handles what arrives within timeout seconds."""
        if self.socket.poll(int(timeout * 1000)):
            while self.socket.poll(0):
                self._handle(self.socket.recv_multipart())

    def _call(self, verb, args, monitor=None):
        self.next_rid += 1
        rid = self.next_rid
        args = dict(args, rid=rid)
        self.send(verb, args)
        poller = zmq.Poller()
        poller.register(self.socket, zmq.POLLIN)
        if monitor is not None:
            poller.register(monitor, zmq.POLLIN)
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer to %s from %s"
                                   % (verb, self.endpoint))
            events = dict(poller.poll(int(left * 1000) + 1))
            if monitor is not None and monitor in events:
                event = recv_monitor_message(monitor)
                if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                    raise LoginRefused(event["value"])
            if self.socket not in events:
                continue
            frames = self.socket.recv_multipart()
            if frames[0] in (b"OK", b"ERROR"):
                results = _unpack(frames[1])
                if results.get("rid") == rid:
                    if frames[0] == b"ERROR":
                        raise MeshqError(results["code"], results["why"])
                    if len(frames) > 2:
                        results["_envelope"] = frames[2]
                    return results
            self._handle(frames)

    def request(self, verb, **args):
        """Sends a request (section 3.3) and returns the results of its OK;
        raises MeshqError on ERROR."""
        return self._call(verb, args)

    # ----------------------------------------------------------------
    #  Publishing (section 3.4)

    def publish(self, envelope, mandatory=False, confirm=True,
                one_frame=False):
        """Publishes one envelope (bytes). With confirm, it carries the
        next sequence number, which is returned. With one_frame, as one
        frame: command, map and envelope back to back (section 2), which
        the agent must have said it takes (HELLO's one)."""
        args = {}
        seq = None
        if confirm:
            self.next_seq += 1
            seq = args["seq"] = self.next_seq
        if mandatory:
            args["man"] = True
        if one_frame:
            if not self.hello.get("one"):
                raise ValueError("the agent takes no one-frame commands")
            self.socket.send(b"PUBLISH" + _pack(args) + envelope)
        else:
            self.send("PUBLISH", args, envelope)
        return seq

    def publish_batch(self, envelopes, mandatory=False):
        """Publishes several envelopes in one frame, with confirms (at
        most HELLO's nb). Returns their sequence numbers."""
        if len(envelopes) > self.hello.get("nb", 1):
            raise ValueError("the agent takes %d publishes a frame"
                             % self.hello.get("nb", 1))
        first = self.next_seq + 1
        self.next_seq += len(envelopes)
        items = b"".join(_pack([mandatory, envelope])
                         for envelope in envelopes)
        self.send("PUBLISH", {"seq": first, "nb": len(envelopes)}, items)
        return list(range(first, self.next_seq + 1))

    def wait_for_confirms(self, timeout=None):
        """Waits until every publish so far is answered (CONFIRM upto, or
        NACK before it)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while self.confirmed < self.next_seq:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("%d publishes not confirmed"
                                   % (self.next_seq - self.confirmed))
            self.poll(left)

    # ----------------------------------------------------------------
    #  Consuming (section 3.4)

    def recv(self, timeout=None):
        """The next delivery, or None after timeout seconds."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.ready:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.poll(left)
        return self.ready.pop(0)

    def ack(self, dt, multiple=False):
        args = {"dt": dt}
        if multiple:
            args["mul"] = True
        self.send("ACK", args)

    def ack_many(self, dts):
        """Acks several deliveries in one frame: 8 bytes a tag,
        little-endian."""
        self.send("ACK", {"dts": b"".join(dt.to_bytes(8, "little")
                                          for dt in dts)})

    def nack(self, dt, requeue=True, multiple=False):
        args = {"dt": dt, "rq": requeue}
        if multiple:
            args["mul"] = True
        self.send("NACK", args)
