#!/usr/bin/env python3
"""Abusive HTTP clients for the soak, all at once against effectd's public
listener for --seconds: slowloris (headers, then a body, trickled a byte at
a time), --idle connections that never send a byte, 100 MB bodies, header
floods, chunk-extension floods and malformed requests. Writes what each
attack got back as JSON to --out: how many tries, the status lines seen,
how many the server closed, and the longest a connection was held."""
import argparse, asyncio, json, resource, time

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--seconds", type=float, required=True)
p.add_argument("--idle", type=int, default=10000)
p.add_argument("--out", required=True)
args = p.parse_args()

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
deadline = time.monotonic() + args.seconds
report = {}


def tally(name):
    return report.setdefault(name, {"tries": 0, "statuses": {}, "closedByServer": 0,
                                    "connectFailed": 0, "longestHeldSeconds": 0.0})


async def status_or_close(reader, limit):
    """The status code of the first response line, or None once the server closes."""
    try:
        line = await asyncio.wait_for(reader.readline(), timeout=limit)
    except (asyncio.TimeoutError, ConnectionError):
        return None
    if not line:
        return None
    parts = line.split()
    return parts[1].decode() if len(parts) > 1 else line[:20].decode("latin-1")


async def one(name, send):
    """Connects, runs `send(writer)` and records how the server ended it."""
    t = tally(name)
    t["tries"] += 1
    start = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
    except OSError:
        t["connectFailed"] += 1
        return
    sender = asyncio.ensure_future(send(writer))
    status = await status_or_close(reader, max(1.0, deadline - time.monotonic() + 5))
    sender.cancel()
    try:
        await sender
    except (asyncio.CancelledError, ConnectionError, OSError):
        pass
    key = status or "closed without an answer"
    t["statuses"][key] = t["statuses"].get(key, 0) + 1
    # The server closes once it has answered an error (or without one).
    try:
        await asyncio.wait_for(reader.read(), timeout=5)
        closed = True
    except ConnectionError:
        closed = True  # a reset: closed while our bytes were still arriving
    except asyncio.TimeoutError:
        closed = False
    if closed or status is None:
        t["closedByServer"] += 1
    t["longestHeldSeconds"] = max(t["longestHeldSeconds"], round(time.monotonic() - start, 2))
    writer.close()


async def trickle(writer, data, pause=1.0):
    for i in range(len(data)):
        writer.write(data[i:i + 1])
        await writer.drain()
        await asyncio.sleep(pause)
    await asyncio.sleep(3600)


async def repeat(name, make_send, concurrency):
    async def loop():
        while time.monotonic() < deadline:
            await one(name, make_send())
    await asyncio.gather(*(loop() for _ in range(concurrency)))


HEAD = b"POST /webhooks/stripe HTTP/1.1\r\nHost: effectd\r\n"


def slow_headers():
    return lambda w: trickle(w, HEAD + b"Stripe-Signature: t=1,v1=00\r\n" + b"X-Slow: " + b"a" * 200)


def slow_body():
    async def send(w):
        w.write(HEAD + b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n")
        await trickle(w, b"{" + b" " * 4999)
    return send


def big_body():
    async def send(w):
        w.write(HEAD + b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
        chunk = b"x" * (1 << 20)
        for _ in range(100):
            w.write(chunk)
            await w.drain()
    return send


def header_flood():
    async def send(w):
        w.write(HEAD + b"".join(b"X-Flood-%d: %s\r\n" % (i, b"v" * 40) for i in range(5000)) + b"\r\n")
        await w.drain()
        await asyncio.sleep(3600)
    return send


def chunk_extensions():
    async def send(w):
        w.write(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(2000):
            w.write(b"1;" + b"ext=" + b"e" * 1000 + b"\r\nx\r\n")
            await w.drain()
        await asyncio.sleep(3600)
    return send


MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"POST /webhooks/stripe HTTP/9.9\r\nHost: x\r\n\r\n",
    b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nzz\r\n",
    b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),
    b"POST /webhooks/stripe HTTP/1.1\r\nHo\x00st: x\r\n\r\n",
    b"POST /webhooks/stripe HTTP/1.1\r\n Folded: header\r\n\r\n",
]


def malformed():
    state = {"n": 0}

    def make():
        data = MALFORMED[state["n"] % len(MALFORMED)]
        state["n"] += 1

        async def send(w):
            w.write(data)
            await w.drain()
            await asyncio.sleep(3600)
        return send
    return make


async def idle_connections():
    t = tally("idle connections")
    conns = []
    for start in range(0, args.idle, 500):
        batch = await asyncio.gather(
            *(asyncio.open_connection("127.0.0.1", args.port) for _ in range(min(500, args.idle - start))),
            return_exceptions=True)
        for c in batch:
            t["tries"] += 1
            if isinstance(c, Exception):
                t["connectFailed"] += 1
            else:
                conns.append(c)
        await asyncio.sleep(0.05)
    await asyncio.sleep(max(0, deadline - time.monotonic()))
    for reader, writer in conns:
        # The transport feeds EOF to the reader when the server closes,
        # whether or not anyone reads (StreamReader keeps it in _eof).
        if reader._eof:
            t["closedByServer"] += 1
        writer.close()
    t["heldAtEnd"] = len(conns) - t["closedByServer"]


async def main():
    await asyncio.gather(
        idle_connections(),
        repeat("slowloris headers", slow_headers, 50),
        repeat("slowloris body", slow_body, 50),
        repeat("100 MB body", big_body, 2),
        repeat("header flood", header_flood, 4),
        repeat("chunk extension flood", chunk_extensions, 4),
        repeat("malformed", malformed(), 4),
    )
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)


asyncio.run(main())
