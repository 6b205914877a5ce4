#!/usr/bin/env python3
"""Load on `needlework serve`: C clients × R requests each (greedy text completions, half of them
streamed), every answer compared with the same request made alone (none lost, none mixed with
another's output), latency percentiles, and the server's resident memory after a warm-up round
and at the end.

    serve_load.py NEEDLEWORK --model M.gguf [--clients 8] [--requests 20] [--parallel 4]
                  [--max-tokens 64] [--ctx 1024] [--threads T]

Prints one JSON object. Exit 1 when an answer differs from its reference or a request fails.
"""

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time

PROMPTS = ["Once upon a time", "The little dog", "Lily wanted to", "One day, a bird", "Tom and Sue",
           "The sun was", "A big red ball", "Mom said"]


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def complete(port, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    payload = resp.read().decode()
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"status {resp.status}: {payload[:200]}")
    if not body.get("stream"):
        return json.loads(payload)["choices"][0]["text"]
    text = ""
    for line in payload.split("\n"):
        if line.startswith("data: {"):
            event = json.loads(line[6:])
            if event["choices"]:
                text += event["choices"][0]["text"]
    if not payload.rstrip().endswith("data: [DONE]"):
        raise RuntimeError("stream without [DONE]")
    return text


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("needlework")
    p.add_argument("--model", required=True)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--parallel", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--ctx", type=int, default=1024)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()

    server = subprocess.Popen([args.needlework, "serve", "--model", args.model, "--port", "0", "--parallel",
                               str(args.parallel), "--ctx", str(args.ctx), "--threads", str(args.threads)],
                              stdout=subprocess.PIPE, text=True)
    banner = server.stdout.readline()
    port = int(banner.split("http://127.0.0.1:")[1].split("/")[0])
    try:
        bodies = [{"prompt": text, "max_tokens": args.max_tokens, "temperature": 0} for text in PROMPTS]
        reference = [complete(port, b) for b in bodies]  # alone, one after another: also the warm-up
        rss_warm = rss_bytes(server.pid)
        latencies, failures = [], []
        lock = threading.Lock()

        def client(c):
            for r in range(args.requests):
                i = (c + r) % len(bodies)
                body = dict(bodies[i], stream=(c + r) % 2 == 1)
                start = time.perf_counter()
                try:
                    text = complete(port, body)
                    ok = text == reference[i]
                except (OSError, RuntimeError, ValueError) as e:
                    ok, text = False, str(e)
                with lock:
                    latencies.append(time.perf_counter() - start)
                    if not ok:
                        failures.append({"client": c, "request": r, "got": text[:80], "wanted": reference[i][:80]})

        start = time.perf_counter()
        threads = [threading.Thread(target=client, args=(c,)) for c in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        rss_end = rss_bytes(server.pid)
        latencies.sort()
        q = statistics.quantiles(latencies, n=100)
        print(json.dumps({
            "model": args.model, "clients": args.clients, "requests_each": args.requests, "parallel": args.parallel,
            "max_tokens": args.max_tokens, "requests": len(latencies), "failures": failures,
            "wall_seconds": round(wall, 2), "requests_per_second": round(len(latencies) / wall, 2),
            "latency_seconds": {"p50": round(q[49], 3), "p95": round(q[94], 3), "max": round(latencies[-1], 3)},
            "rss_bytes": {"after_warmup": rss_warm, "end": rss_end}}, indent=2))
        return 1 if failures else 0
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
