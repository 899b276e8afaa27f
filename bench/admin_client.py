#!/usr/bin/env python3
"""What an operator's tools do to the admin listener while make bench loads the
public one: the live page (its event stream, and /admin/api/stats every 2 s)
and a Prometheus-style scraper of /metrics, here every 200 ms so that the
latency has many samples. Prints one JSON object.

  admin_client.py --port P --token T --seconds S [--no-page]
"""
import argparse, base64, http.client, json, threading, time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--token", required=True)
parser.add_argument("--seconds", type=float, required=True)
parser.add_argument("--no-page", action="store_true", help="scrape /metrics only")
args = parser.parse_args()
auth = {"Authorization": "Basic " + base64.b64encode(f"bench:{args.token}".encode()).decode()}
stop = time.monotonic() + args.seconds
events = 0
stats_polls = 0


def stream():
    global events
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=args.seconds + 5)
    conn.request("GET", "/admin/api/transitions", headers=auth)
    response = conn.getresponse()
    assert response.status == 200, response.status
    while time.monotonic() < stop:
        line = response.fp.readline()
        if not line:
            break
        events += line.startswith(b"data: ")
    conn.close()


def poll_stats():
    global stats_polls
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
    while time.monotonic() < stop:
        conn.request("GET", "/admin/api/stats", headers=auth)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        stats_polls += 1
        time.sleep(2)
    conn.close()


threads = [] if args.no_page else [threading.Thread(target=stream), threading.Thread(target=poll_stats)]
for t in threads:
    t.start()
latencies = []
conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
while time.monotonic() < stop:
    started = time.monotonic()
    conn.request("GET", "/metrics")
    response = conn.getresponse()
    body = response.read()
    assert response.status == 200 and b"effectd_webhook_requests_total" in body
    latencies.append((time.monotonic() - started) * 1000)
    time.sleep(0.2)
for t in threads:
    t.join()
latencies.sort()
pct = lambda p: latencies[int(p * (len(latencies) - 1))]
print(json.dumps({"scrapes": len(latencies), "p50_ms": pct(0.5), "p99_ms": pct(0.99),
                  "max_ms": latencies[-1], "stream_events": events, "stats_polls": stats_polls}))
