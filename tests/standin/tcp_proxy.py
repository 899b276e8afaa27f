#!/usr/bin/env python3
"""A TCP proxy for tests that can turn into a black hole: while the file
<dir>/blackhole exists it moves no byte in either direction and closes
nothing, like a route that drops packets without a reset. It still accepts
connections (the kernel completes the handshake), which then hear nothing.
Writes its port to <dir>/port."""
import argparse, os, select, socket, threading, time

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True)
p.add_argument("--target-port", type=int, required=True)
args = p.parse_args()
hole = os.path.join(args.dir, "blackhole")


def pump(a, b):
    pair = {a: b, b: a}
    try:
        while True:
            if os.path.exists(hole):
                time.sleep(0.05)
                continue
            ready, _, _ = select.select([a, b], [], [], 0.05)
            for s in ready:
                data = s.recv(65536)
                if not data:
                    raise OSError("closed")
                pair[s].sendall(data)
    except OSError:
        pass
    finally:
        # Once the hole is open again, whatever ended the pair is real.
        while os.path.exists(hole):
            time.sleep(0.05)
        a.close()
        b.close()


def serve(listener):
    while True:
        client, _ = listener.accept()
        try:
            upstream = socket.create_connection(("127.0.0.1", args.target_port))
        except OSError:
            client.close()
            continue
        threading.Thread(target=pump, args=(client, upstream), daemon=True).start()


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(128)
with open(os.path.join(args.dir, "port.tmp"), "w") as f:
    f.write(str(listener.getsockname()[1]))
os.replace(os.path.join(args.dir, "port.tmp"), os.path.join(args.dir, "port"))
serve(listener)
