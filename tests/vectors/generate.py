#!/usr/bin/env python3
"""Writes the envelope test vectors with an encoder independent of meshq.

Each vector is the msgpack encoding of one envelope, made here with the
Python msgpack package (Debian: python3-msgpack) from the key table of
docs/PROTOCOL.md, and written as lowercase hex on one line. The C tests
build the same messages with the meshq API and must produce these bytes,
and must decode them back. Run it from this folder after changing the
format; the files are committed.
"""
import msgpack

ORIGIN = bytes(range(16))

VECTORS = {
    # The smallest envelope: only the version.
    "minimal": {"v": 1},
    # The RabbitMQ tutorial's message to the default exchange.
    "hello": {"v": 1, "k": "my_queue", "b": b"Hello World!"},
    # Every field, in canonical order, with one header of each type.
    "full": {
        "v": 1,
        "o": ORIGIN,
        "s": 4294967296,
        "x": "logs",
        "k": "kern.critical",
        "ct": "application/json",
        "ce": "gzip",
        "h": {
            "x-str": "value",
            "x-int": -129,
            "x-big": 300,
            "x-true": True,
            "x-nil": None,
            "x-double": 1.5,
            "x-bin": b"\x00\xff",
        },
        "p": 9,
        "t": 1700000000000,
        "e": 60000,
        "c": "rpc-42",
        "r": "amq.reply",
        "u": "alice",
        "a": "billing",
        "d": 1,
        "n": 3,
        "b": b"{}",
    },
    # UTF-8 in properties, header keys and values.
    "unicode": {
        "v": 1,
        "k": "caf\u00e9.\u65e5\u672c",
        "h": {"\u03bb": "\U0001F600"},
        "b": b"",
    },
    # A newer writer's key after the known ones: kept, not an error.
    "unknown_key": {"v": 1, "k": "jobs", "b": b"x", "zz": [1, {"a": 2}]},
}

for name, fields in VECTORS.items():
    data = msgpack.packb(fields, use_bin_type=True)
    with open(name + ".hex", "w") as out:
        out.write(data.hex() + "\n")
    print(f"{name}.hex: {len(data)} bytes")
