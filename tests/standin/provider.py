#!/usr/bin/env python3
"""A stand-in for the HTTP providers effectd talks to (Resend, Postmark,
PostHog, Segment, webhook receivers), for tests only.

Records every request as one JSON line (method, path, headers, body) and
answers from a plan: a JSON list of responses consumed in order, each
{"status": 200, "headers": {...}, "body": {...} | "text"}, or {"hang": seconds}
(answer nothing for that long), or {"drop": true} (close without answering);
"early": true sends a 103 Early Hints first; "close": true with a status
answers, then closes the kept-alive connection
without saying so (as a server's idle timeout does). Each record names the
client's port, so tests can tell a kept-alive connection from a new one.
With the plan empty it answers 200 with ids like Resend's and Postmark's.
While the file <dir>/unavailable exists it answers 503 to everything (an
outage of any length, for the soak). Each record has the "status" it was
answered with (or "hang", "drop").
With --webhook-secret it checks Standard Webhooks signatures and records
whether each was valid.
"""
import argparse, base64, hashlib, hmac, json, os, socket, ssl, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = None
lock = threading.Lock()
counter = 0


def next_response():
    with lock:
        if not os.path.exists(args.plan):
            return None
        with open(args.plan) as f:
            plan = json.load(f)
        if not plan:
            return None
        first = plan.pop(0)
        with open(args.plan + ".tmp", "w") as f:
            json.dump(plan, f)
        os.replace(args.plan + ".tmp", args.plan)
        return first


def signature_valid(headers, body):
    if not args.webhook_secret:
        return None
    key = args.webhook_secret
    key = base64.b64decode(key[len("whsec_"):]) if key.startswith("whsec_") else key.encode()
    signed = f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.split(",", 1)[1] for s in headers.get("webhook-signature", "").split() if "," in s]
    return any(hmac.compare_digest(expected, g) for g in given)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        global counter
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = {"method": "POST", "path": self.path, "headers": headers,
                  "body": body.decode("utf-8", "replace"),
                  "connection": self.client_address[1],
                  "signatureValid": signature_valid(headers, body)}
        with lock:
            counter += 1
            n = counter
        if os.path.exists(os.path.join(args.dir, "unavailable")):
            plan = {"status": 503, "body": {"message": "unavailable"}}
        else:
            plan = next_response() or {"status": 200,
                                       "body": {"id": f"re_{n}", "MessageID": f"pm_{n}"}}
        record["status"] = ("hang" if plan.get("hang") else "drop" if plan.get("drop")
                            else plan.get("status", 200))
        with lock, open(args.record, "a") as f:
            f.write(json.dumps(record) + "\n")
        if plan.get("hang"):
            time.sleep(plan["hang"])
            self.close_connection = True
            return
        if plan.get("drop"):
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if plan.get("early"):
            self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
        payload = plan.get("body", {})
        data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        self.send_response(plan.get("status", 200))
        for k, v in plan.get("headers", {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if plan.get("close"):
            self.close_connection = True


class Server(ThreadingHTTPServer):
    # Records each connection it has closed (by the client's port, as
    # "connection" in a request's record), so a test can wait for the close.
    def shutdown_request(self, request):
        try:
            port = request.getpeername()[1]
        except OSError:
            port = None
        super().shutdown_request(request)
        if port is not None:
            with lock, open(os.path.join(args.dir, "closed.jsonl"), "a") as f:
                f.write(json.dumps({"connection": port}) + "\n")


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--webhook-secret")
    args = p.parse_args()
    args.record = os.path.join(args.dir, "requests.jsonl")
    args.plan = os.path.join(args.dir, "plan.json")
    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(os.path.join(args.dir, "port.tmp"), "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(os.path.join(args.dir, "port.tmp"), os.path.join(args.dir, "port"))
    server.serve_forever()


if __name__ == "__main__":
    main()
