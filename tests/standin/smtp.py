#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) for effectd's tests: STARTTLS required,
AUTH PLAIN/LOGIN with one user, or implicit TLS with --implicit-tls.
Records each accepted message as a JSON line; --hang-after-data makes it
accept the DATA and then never answer (an outcome effectd cannot know);
--endless-greeting is no SMTP server at all but a hostile one: its greeting
is a multi-line reply that never ends."""
import argparse, json, os, socket, ssl, threading, time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True)
p.add_argument("--cert", required=True)
p.add_argument("--key", required=True)
p.add_argument("--user", default="mailer")
p.add_argument("--password", default="s3cret")
p.add_argument("--implicit-tls", action="store_true")
p.add_argument("--hang-after-data", action="store_true")
p.add_argument("--endless-greeting", action="store_true")
args = p.parse_args()
lock = threading.Lock()


class Handler:
    async def handle_DATA(self, server, session, envelope):
        with lock, open(os.path.join(args.dir, "messages.jsonl"), "a") as f:
            f.write(json.dumps({
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "content": envelope.content.decode("utf-8", "replace"),
                "tls": session.ssl is not None,
                "user": getattr(session, "login_data", None) and args.user,
            }) + "\n")
        if args.hang_after_data:
            await __import__("asyncio").sleep(3600)
        return "250 2.0.0 Ok: queued as Q" + str(int(time.time() * 1000))


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user
          and auth_data.password.decode() == args.password)
    if ok:
        return AuthResult(success=True, auth_data=auth_data)
    return AuthResult(success=False, handled=False,
                      message="535 5.7.8 Authentication credentials invalid")


def publish_port(port):
    with open(os.path.join(args.dir, "port.tmp"), "w") as f:
        f.write(str(port))
    os.replace(os.path.join(args.dir, "port.tmp"), os.path.join(args.dir, "port"))


if args.endless_greeting:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    publish_port(listener.getsockname()[1])
    line = b"220-" + b"x" * 500 + b"\r\n"
    while True:
        conn, _ = listener.accept()
        sent = 0
        try:
            while True:
                conn.sendall(line)
                sent += len(line)
                with open(os.path.join(args.dir, "sent"), "w") as f:
                    f.write(str(sent))
        except OSError:
            conn.close()

s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(args.cert, args.key)
if args.implicit_tls:
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, ssl_context=context,
                            authenticator=authenticator, auth_required=True,
                            auth_require_tls=False)
else:
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, authenticator=authenticator,
                            auth_required=True)
controller.start()
publish_port(port)
threading.Event().wait()
