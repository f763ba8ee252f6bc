#!/usr/bin/env python3
"""Dashboard benchmark (issue #16 item 5): how long each dashboard page and call takes at the size
operators run, on the embedded store. Starts the mock upstream and switchyard on 127.0.0.1 with a
fresh data dir, seeds --accounts accounts and --keys keys through the admin API, sends --requests
relayed requests (spread over the first 200 keys, so the usage pages have rows), signs in to the
dashboard as a browser does, then times every page --rounds times, one request at a time over a
kept-alive connection, after two warm-up rounds. Reports p50 / p99 / max per page, in ms.

    python3 bench/dashboard.py [--accounts 2000] [--keys 5000] [--requests 1000] [--rounds 30]
                               [--profile release|debug] [--target-dir target] [--out FILE]

Bounded: the seeding runs at most 8 requests at a time, the timing one at a time. Needs builds of
switchyard and mock-upstream in the profile's directory (`cargo build [--release] -p switchyard
--bin switchyard -p mock-upstream --bin mock-upstream`); --profile defaults to release when that
build exists, else debug (whose figures are an upper bound for release).
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (the load benchmark's process helpers)

ADMIN = "bench-admin-token-0123456789abcdef0123456789"


class Conn:
    """One kept-alive HTTP/1.1 connection to switchyard."""

    def __init__(self, port):
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h.setdefault("content-type", "application/json")
        try:
            self.c.request(method, path, body=data, headers=h)
            r = self.c.getresponse()
        except (http.client.HTTPException, OSError):
            self.c.close()
            self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.c.request(method, path, body=data, headers=h)
            r = self.c.getresponse()
        return r.status, r.getheaders(), r.read()


def admin(conn, method, path, body=None):
    status, _, data = conn.request(method, path, body, {"authorization": f"Bearer {ADMIN}"})
    if status >= 300:
        raise RuntimeError(f"{method} {path}: {status} {data[:200]!r}")
    return json.loads(data or b"{}")


def add_account(conn, fields):
    """Each account added reloads the scheduler's pool; at thousands of accounts a burst of adds
    can outlast the pool's answer timeout (503) after the account was stored: then the account
    is there without its id in hand, and is not added again."""
    status, _, data = conn.request("POST", "/admin/accounts", fields, {"authorization": f"Bearer {ADMIN}"})
    if status == 503:
        time.sleep(0.5)
        return None
    if status >= 300:
        raise RuntimeError(f"POST /admin/accounts: {status} {data[:200]!r}")
    return json.loads(data)["id"]


def in_parallel(port, n, work):
    """`work(conn, i)` for i in 0..n, over 8 connections."""
    def run(chunk):
        conn = Conn(port)
        return [work(conn, i) for i in chunk]
    chunks = [range(k, n, 8) for k in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        out = []
        for part in ex.map(run, chunks):
            out.extend(part)
        return out


def seed(port, mock_url, accounts, keys, requests):
    t0 = time.time()
    ids = in_parallel(port, accounts, lambda c, i: add_account(c, {
        "name": f"acct-{i:05d}", "kind": "claude-console", "base_url": mock_url,
        "api_key": f"sk-ant-bench-{i}", "priority": i % 100, "max_concurrency": 4}))
    ids = [i for i in ids if i]
    t1 = time.time()
    made = in_parallel(port, keys, lambda c, i: admin(c, "POST", "/admin/keys", {
        "name": f"key-{i:05d}", "tags": [f"team-{i % 20}"],
        "limits": {"daily_cost_usd": "50"} if i % 3 == 0 else {}}))
    t2 = time.time()
    body = json.dumps({"model": "claude-sonnet-5", "max_tokens": 16,
                       "messages": [{"role": "user", "content": "hi"}]})

    def relay(c, i):
        k = made[i % min(200, len(made))]["key"]
        status, _, _ = c.request("POST", "/v1/messages", body,
                                 {"x-api-key": k, "anthropic-version": "2023-06-01"})
        return status
    statuses = in_parallel(port, requests, relay)
    t3 = time.time()
    ok = sum(1 for s in statuses if s == 200)
    print(f"seeded {accounts} accounts in {t1 - t0:.1f} s, {keys} keys in {t2 - t1:.1f} s, "
          f"{ok}/{requests} requests relayed in {t3 - t2:.1f} s", file=sys.stderr)
    return ids, made


def sign_in(conn, port):
    origin = f"http://127.0.0.1:{port}"
    status, headers, _ = conn.request("POST", "/dashboard/login",
                                      urllib.parse.urlencode({"token": ADMIN}),
                                      {"content-type": "application/x-www-form-urlencoded",
                                       "origin": origin})
    assert status == 303, status
    cookie = next(v for k, v in headers if k.lower() == "set-cookie").split(";")[0]
    return cookie


def pages(ids, made):
    account = ids[len(ids) // 2]
    key = made[0]
    return [
        ("overview", "/dashboard", None),
        ("overview live fragment", "/dashboard/live", None),
        ("accounts, page 1", "/dashboard/accounts", None),
        ("accounts, page 20 by state", "/dashboard/accounts?sort=state&page=20", None),
        ("accounts, search", "/dashboard/accounts?q=acct-01999", None),
        ("account", f"/dashboard/accounts/{account}", None),
        ("keys, page 1", "/dashboard/keys", None),
        ("keys, page 50 by last use", "/dashboard/keys?sort=last_used&page=50", None),
        ("key (with recent requests)", f"/dashboard/keys/{key['id']}", None),
        ("groups", "/dashboard/groups", None),
        ("usage by key, days", "/dashboard/usage?by=key&step=day", None),
        ("usage by account, hours", "/dashboard/usage?by=account&step=hour", None),
        ("usage by model, months", "/dashboard/usage?by=model&step=month", None),
        ("usage CSV by key", "/dashboard/usage.csv?by=key&step=day", None),
        ("/stats page", "/stats", None),
        ("/v1/usage (key holder)", "/v1/usage", key["key"]),
        ("/stats/api/requests (key holder)", "/stats/api/requests", key["key"]),
    ]


def time_pages(port, cookie, plan, rounds):
    conn = Conn(port)
    rows = []
    for name, path, key in plan:
        headers = {"x-api-key": key} if key else {"cookie": cookie}
        samples = []
        for i in range(rounds + 2):
            t = time.perf_counter()
            status, _, body = conn.request("GET", path, headers=headers)
            ms = (time.perf_counter() - t) * 1000
            if status != 200:
                raise RuntimeError(f"{path}: {status} {body[:200]!r}")
            if i >= 2:
                samples.append(ms)
        samples.sort()
        p99 = samples[min(len(samples) - 1, int(round(0.99 * (len(samples) - 1))))]
        rows.append((name, path, statistics.median(samples), p99, samples[-1], len(body)))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=2000)
    ap.add_argument("--keys", type=int, default=5000)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--target-dir", default="target")
    ap.add_argument("--profile", choices=["release", "debug"])
    ap.add_argument("--out")
    args = ap.parse_args()
    profile = args.profile or ("release" if os.path.exists(os.path.join(args.target_dir, "release", "switchyard"))
                               else "debug")
    bin_dir = os.path.abspath(os.path.join(args.target_dir, profile))
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            mock_port, port = load.free_port(), load.free_port()
            procs.append(subprocess.Popen([os.path.join(bin_dir, "mock-upstream"), "--port", str(mock_port),
                                           "--workers", "1", "--max-records", "0"], stdout=subprocess.DEVNULL))
            load.wait_port(mock_port)
            env = dict(os.environ, SWITCHYARD__SERVER__PORT=str(port), SWITCHYARD__STORE__DATA_DIR=tmp,
                       SWITCHYARD__ADMIN__TOKEN=ADMIN, SWITCHYARD__LOG__LEVEL="warn",
                       SWITCHYARD__STORE__BACKEND="embedded")
            procs.append(subprocess.Popen([os.path.join(bin_dir, "switchyard"), "serve"], env=env, cwd=tmp,
                                          stdout=subprocess.DEVNULL))
            load.wait_port(port)
            ids, made = seed(port, f"http://127.0.0.1:{mock_port}", args.accounts, args.keys, args.requests)
            time.sleep(2)  # usage aggregates flushed to the store
            cookie = sign_in(Conn(port), port)
            rows = time_pages(port, cookie, pages(ids, made), args.rounds)
        finally:
            load.stop(procs)
    lines = [f"{args.accounts} accounts, {args.keys} keys, {args.requests} relayed requests, embedded store, "
             f"{profile} build, {args.rounds} rounds per page (load average {load.loadavg()})", "",
             "| page | path | p50 ms | p99 ms | max ms | bytes |", "| --- | --- | ---: | ---: | ---: | ---: |"]
    for name, path, p50, p99, mx, size in rows:
        lines.append(f"| {name} | `{path.split('?')[0]}` | {p50:.1f} | {p99:.1f} | {mx:.1f} | {size:,} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
