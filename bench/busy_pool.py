#!/usr/bin/env python3
"""Busy-pool load (issue #13): more concurrent Claude requests than the pool has slots, over six
accounts with 16 + 8 + 8 + 8 + 8 + 4 slots — one healthy (a 30 ms answer), the others answering
429, 500 (for the first third of the run), 529 (for the first half), cutting streams after two
events, or streaming slowly — half the requests streamed, 10 % of the clients walking away
early. Reports the answers by status, requests hung (no answer within --hang-after seconds),
slots still held afterwards, waiters left, and client-side latency p50 / p99, plus the slot
wait histogram's p50 / p99 from /metrics.

Bounded: --requests in total at --concurrency, every socket with a timeout. Starts the mock
upstream and switchyard from --target-dir/--profile (debug builds are fine: only counts matter)
on 127.0.0.1, on the embedded store, or on Redis with --redis URL.

    python3 bench/busy_pool.py [--requests 1500] [--concurrency 48] [--profile debug]
                               [--redis redis://127.0.0.1:6379 [--instances 2]] [--slot-wait-ms 60000]

With --instances N (Redis only) N switchyard processes share the pool and the requests alternate
between them. The report includes switchyard's CPU time per request (user + system of every
switchyard process over the load, from /proc), to compare against --slot-wait-ms 0.
"""
import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (process helpers)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN = load.ADMIN
ACCOUNTS = [  # name, slots, persistent fault (None: healthy), how long it lasts (share of the run)
    ("healthy", 16, {"kind": "delay", "ms": 30}, 1.0),
    ("rate-limited", 8, {"kind": "status", "status": 429, "headers": [["retry-after", "1"]],
                         "body": json.dumps({"type": "error", "error": {"type": "rate_limit_error", "message": "429"}})}, 1.0),
    ("erroring", 8, {"kind": "status", "status": 500,
                     "body": json.dumps({"type": "error", "error": {"type": "api_error", "message": "500"}})}, 0.33),
    ("overloaded", 8, {"kind": "status", "status": 529,
                       "body": json.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "529"}})}, 0.5),
    ("cutting", 8, {"kind": "cut_stream", "after_events": 2}, 1.0),
    ("slow", 4, {"kind": "slow_stream", "ms": 40}, 1.0),
]


def post_json(url, body, token=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def get(url, token=ADMIN):
    req = urllib.request.Request(url)
    req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


def one_request(port, key, i, stream, walk_away, hang_after):
    """Returns (status or 'walked' / 'hung' / 'error', seconds)."""
    body = json.dumps({"model": "claude-sonnet-5", "max_tokens": 64, "stream": stream,
                       "messages": [{"role": "user", "content": f"busy pool {i}"}]})
    started = time.time()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.05 if walk_away else hang_after)
    try:
        conn.request("POST", "/v1/messages", body=body, headers={
            "x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.time() - started
    except (TimeoutError, OSError) as e:
        if walk_away:
            return "walked", time.time() - started
        if isinstance(e, TimeoutError) or "timed out" in str(e):
            return "hung", time.time() - started
        # A stream cut after its first byte surfaces here (IncompleteRead is not an OSError).
        return "error", time.time() - started
    except http.client.IncompleteRead:
        return "cut", time.time() - started
    finally:
        conn.close()


def histogram_quantiles(metrics, name, qs):
    """Quantiles from a Prometheus histogram's cumulative buckets (upper bounds)."""
    buckets = []
    for line in metrics.splitlines():
        if line.startswith(f"{name}_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    if not buckets or buckets[-1][1] == 0:
        return [None for _ in qs]
    total = buckets[-1][1]
    return [next(b for b, c in buckets if c >= q * total) for q in qs]


def run(args):
    target = os.path.join(args.target_dir, args.profile)
    tmp = tempfile.mkdtemp(prefix="busy-pool-")
    mock_port = load.free_port()
    ports = [load.free_port() for _ in range(args.instances)]
    mock = subprocess.Popen([os.path.join(target, "mock-upstream"), "--port", str(mock_port),
                             "--workers", "2", "--max-records", "0"], stdout=subprocess.DEVNULL)
    env = dict(os.environ, SWITCHYARD__STORE__DATA_DIR=tmp,
               SWITCHYARD__ADMIN__TOKEN=ADMIN, SWITCHYARD__LOG__LEVEL=os.environ.get("SWITCHYARD__LOG__LEVEL", "error"),
               SWITCHYARD__SCHEDULER__SLOT_WAIT_MS=str(args.slot_wait_ms))
    if args.redis:
        env.update(SWITCHYARD__STORE__BACKEND="redis", SWITCHYARD__STORE__REDIS_URL=args.redis,
                   SWITCHYARD__STORE__REDIS_PREFIX=f"busy-bench-{os.getpid()}:",
                   SWITCHYARD_ENCRYPTION_KEY="3f9a1c7e5b2d8046a1e3c5b7d9f20486ac4e6b8d0f1a3c5e7092b4d6f8a1c3e5")
    instances = [subprocess.Popen([os.path.join(target, "switchyard"), "serve"], cwd=tmp, stdout=subprocess.DEVNULL,
                                  env=dict(env, SWITCHYARD__SERVER__PORT=str(p))) for p in ports]
    try:
        load.wait_port(mock_port)
        for p in ports:
            load.wait_port(p)
        base, mock_url = f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{mock_port}"
        for name, slots, fault, _ in ACCOUNTS:
            post_json(f"{base}/admin/accounts", {"name": name, "kind": "claude-console", "base_url": mock_url,
                                                 "api_key": f"sk-{name}", "max_concurrency": slots}, ADMIN)
            post_json(f"{mock_url}/__mock/persistent", {"credential": f"sk-{name}", "fault": fault})
        key = post_json(f"{base}/admin/keys", {"name": "busy"}, ADMIN)["key"]
        time.sleep(1.5 if len(ports) > 1 else 0)  # the other instances see the accounts (refresh_ms)

        rng = random.Random(13)
        plan = [(i, i % 2 == 0, rng.random() < 0.10) for i in range(args.requests)]
        results, lock, cursor = [], threading.Lock(), iter(plan)
        done = [0]

        def worker():
            while True:
                with lock:
                    item = next(cursor, None)
                if item is None:
                    return
                r = one_request(ports[item[0] % len(ports)], key, *item, args.hang_after)
                with lock:
                    results.append((item, r))
                    done[0] += 1
                    n = done[0]
                for name, _, _, share in ACCOUNTS:
                    if share < 1.0 and n == int(share * args.requests):
                        post_json(f"{mock_url}/__mock/persistent", {"credential": f"sk-{name}", "fault": None})

        cpu_before = load.cpu_seconds([p.pid for p in instances])
        started = time.time()
        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.time() - started
        cpu = load.cpu_seconds([p.pid for p in instances]) - cpu_before
        if args.watch:
            print(json.dumps({a["name"]: a.get("cooldown") for a in json.loads(get(f"{base}/admin/accounts"))["accounts"]}))
        time.sleep(1.0)  # releases travel through the pool's mailbox
        accounts = json.loads(get(f"{base}/admin/accounts"))
        metrics = get(f"{base}/metrics")
    finally:
        load.stop(instances + [mock])

    by = {}
    for _, (status, _) in results:
        by[status] = by.get(status, 0) + 1
    answered = [s for item, (s, _) in results if not item[2]]
    times = sorted(t for (item, (s, t)) in results if not item[2] and isinstance(s, int))
    wait_p50, wait_p99 = histogram_quantiles(metrics, 'switchyard_slot_wait_seconds', [0.5, 0.99])
    report = {
        "backend": "redis" if args.redis else "embedded", "instances": len(ports),
        "requests": args.requests, "concurrency": args.concurrency, "seconds": round(elapsed, 1),
        "answers": dict(sorted(by.items(), key=lambda kv: str(kv[0]))),
        "5xx_or_429": sum(1 for s in answered if isinstance(s, int) and (s == 429 or s >= 500)),
        "hung": by.get("hung", 0),
        "slots_held_after": sum(a.get("slots_in_use", 0) for a in accounts["accounts"]),
        "waiters_after": accounts.get("waiters"),
        "cooling_after": sorted(a["name"] for a in accounts["accounts"] if a.get("cooldown")),
        "latency_p50_s": round(statistics.median(times), 3) if times else None,
        "latency_p99_s": round(times[int(0.99 * (len(times) - 1))], 3) if times else None,
        "slot_wait_p50_le_s": wait_p50, "slot_wait_p99_le_s": wait_p99,
        "switchyard_cpu_us_per_request": round(cpu * 1e6 / len(results)),
    }
    print(json.dumps(report, indent=2))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=1500)
    p.add_argument("--concurrency", type=int, default=48)
    p.add_argument("--hang-after", type=float, default=120.0)
    p.add_argument("--slot-wait-ms", type=int, default=60000)
    p.add_argument("--redis")
    p.add_argument("--instances", type=int, default=1, help="switchyard processes sharing the pool (Redis only)")
    p.add_argument("--watch", action="store_true", help="print each account's cooldown when the load ends")
    p.add_argument("--target-dir", default=os.path.join(ROOT, "target"))
    p.add_argument("--profile", default="debug")
    args = p.parse_args()
    if args.instances > 1 and not args.redis:
        p.error("--instances needs --redis (the embedded store is one process's)")
    run(args)


if __name__ == "__main__":
    main()
