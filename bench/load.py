#!/usr/bin/env python3
"""Load benchmark: requests/s and p50/p99 latency of the same request sent straight to the mock
upstream, through nginx as a plain reverse proxy, and through switchyard, at several
concurrencies, stream and non-stream; plus switchyard's RSS idle and under load.

Everything runs on 127.0.0.1 in one session, so figures compare as ratios on this noisy machine.
Bounded: each run lasts --seconds (default 8) at a fixed connection count.

    python3 bench/load.py [--seconds 8] [--concurrency 1,32,256] [--out bench-out/load.md]

Needs: wrk and nginx (Debian packages), a release build (`cargo build --release --bin switchyard
-p mock-upstream`; the script runs it).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
ADMIN = "bench-admin-token-0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def http(method, url, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": sock.group(1).strip() if sock else ""}


def run_wrk(url, key, body_file, conns, seconds):
    threads = max(1, min(2, conns))
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency", "-s",
           os.path.join(ROOT, "bench", "post.lua"), url]
    env = dict(os.environ, BODY_FILE=body_file, API_KEY=key)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 30).stdout
    return parse_wrk(out)


def nginx_conf(port, upstream_port, tmp):
    return f"""
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  upstream mock {{ server 127.0.0.1:{upstream_port}; keepalive 512; }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 100m;
    location / {{
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--concurrency", default="1,32,256")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-out", "load.md"))
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"{tool} is required (apt-get install {tool})")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "switchyard", "-p", "mock-upstream", "-p", "switchyard"],
                       cwd=ROOT, check=True)
    conc = [int(c) for c in args.concurrency.split(",")]
    tmp = tempfile.mkdtemp(prefix="switchyard-load-")
    procs = []
    try:
        mock_port, nginx_port, sy_port = free_port(), free_port(), free_port()
        mock = subprocess.Popen([os.path.join(TARGET, "release", "mock-upstream"), "--port", str(mock_port),
                                 "--workers", "1", "--max-records", "0"], stdout=subprocess.DEVNULL)
        procs.append(mock)
        wait_port(mock_port)
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_conf(nginx_port, mock_port, tmp))
        nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
        nginx = subprocess.Popen([nginx_bin, "-c", conf, "-g", "daemon off;"], stderr=subprocess.DEVNULL)
        procs.append(nginx)
        wait_port(nginx_port)
        env = dict(os.environ, SWITCHYARD__SERVER__PORT=str(sy_port), SWITCHYARD__STORE__DATA_DIR=tmp,
                   SWITCHYARD__ADMIN__TOKEN=ADMIN, SWITCHYARD__LOG__LEVEL="warn",
                   SWITCHYARD__SERVER__WORKERS=os.environ.get("SY_WORKERS", "1"))
        sy = subprocess.Popen([os.path.join(TARGET, "release", "switchyard"), "serve"], env=env, cwd=tmp,
                              stdout=subprocess.DEVNULL)
        procs.append(sy)
        wait_port(sy_port)
        base = f"http://127.0.0.1:{sy_port}"
        http("POST", f"{base}/admin/accounts", {"name": "bench", "kind": "claude-console",
                                               "base_url": f"http://127.0.0.1:{mock_port}", "api_key": "sk-ant-bench"}, ADMIN)
        key = http("POST", f"{base}/admin/keys", {"name": "bench"}, ADMIN)["key"]
        time.sleep(0.5)
        rss_idle = rss_kb(sy.pid)

        rows = []
        for stream in (False, True):
            body_file = os.path.join(tmp, f"body-{stream}.json")
            with open(body_file, "w") as f:
                json.dump({"model": "claude-sonnet-5", "max_tokens": 64, "stream": stream,
                           "messages": [{"role": "user", "content": "Hello from the load test"}]}, f)
            for c in conc:
                for name, url, k in (("direct", f"http://127.0.0.1:{mock_port}/v1/messages", "sk-ant-bench"),
                                     ("nginx", f"http://127.0.0.1:{nginx_port}/v1/messages", "sk-ant-bench"),
                                     ("switchyard", f"{base}/v1/messages", key)):
                    r = run_wrk(url, k, body_file, c, args.seconds)
                    r.update(target=name, stream=stream, conns=c)
                    rows.append(r)
                    print(json.dumps(r), flush=True)
        rss_peak = rss_kb(sy.pid, "VmHWM")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    lines = ["| mode | conns | target | req/s | p50 ms | p99 ms | non-2xx |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {'stream' if r['stream'] else 'json'} | {r['conns']} | {r['target']} | {r['rps']:.0f} | "
                     f"{r['p50']:.3f} | {r['p99']:.3f} | {r['non2xx']} |")
    lines.append("")
    lines.append("| mode | conns | switchyard added p99 vs direct (ms) | switchyard req/s / nginx req/s |")
    lines.append("|---|---|---|---|")
    for stream in (False, True):
        for c in conc:
            get = {r["target"]: r for r in rows if r["stream"] == stream and r["conns"] == c}
            lines.append(f"| {'stream' if stream else 'json'} | {c} | {get['switchyard']['p99'] - get['direct']['p99']:+.3f} | "
                         f"{get['switchyard']['rps'] / get['nginx']['rps']:.2f} |")
    lines.append("")
    lines.append(f"switchyard RSS: idle {rss_idle / 1024:.1f} MiB, peak under load {rss_peak / 1024:.1f} MiB")
    report = "\n".join(lines)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
