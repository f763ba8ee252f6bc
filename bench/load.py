#!/usr/bin/env python3
"""Relay load benchmark: requests/s and p50/p99 latency of the same request sent straight to the
mock upstream ("direct"), through nginx as a plain reverse proxy ("nginx"), and through switchyard,
for three API families (Claude messages, Gemini generateContent, OpenAI Responses), stream and
non-stream, at several concurrencies; plus switchyard's RSS idle and under load, and the CPU time
each proxy spends per request.

Everything runs on 127.0.0.1 in one session, and every figure is read as a ratio against the
baselines of the same run (the machine is shared and noisy). Bounded: every wrk run lasts
--seconds at a fixed connection count, after a --warmup run that is not recorded. With
--repeat N each cell runs N rounds (direct, nginx, switchyard in turn) and reports medians.

    python3 bench/load.py [--seconds 8] [--concurrency 1,32,256] [--families claude,gemini,responses]
                          [--modes json,stream] [--pin 0:0:1 | --pin none] [--proxy-workers 1] [--repeat 1]
                          [--wait-quiet 15] [--target-dir DIR] [--no-build] [--out bench-out/load.md]

CPU placement (--pin LOADGEN:UPSTREAM:PROXY, CPU lists for taskset): by default wrk and the mock
share CPU 0 and the proxy under test (nginx or switchyard, every thread) gets CPU 1 to itself, so
both proxies run on the same single core with the same number of event loops (--proxy-workers,
nginx `worker_processes` = switchyard `server.workers`), against the same mock (one worker).

Needs: wrk, nginx and taskset (Debian packages) and a release build of switchyard and
mock-upstream (the script runs `cargo build --release` unless --no-build).
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN = "bench-admin-token-0123456789abcdef0123"
UPSTREAM_KEY = "bench-upstream-key"
PROMPT = "Hello from the load test"
TARGETS = ("direct", "nginx", "switchyard")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# What differs per API family: switchyard's route, the upstream path (the mock's and nginx's),
# the credential header, the body and the kind of account switchyard relays to.
FAMILIES = {
    "claude": {
        "kind": "claude-console",
        "sy_path": lambda stream: "/v1/messages",
        "up_path": lambda stream: "/v1/messages",
        "auth": "x-api-key",
        "extra": "anthropic-version: 2023-06-01",
        "body": lambda stream: {"model": "claude-sonnet-5", "max_tokens": 64, "stream": stream,
                                "messages": [{"role": "user", "content": PROMPT}]},
    },
    "gemini": {
        "kind": "gemini-api",
        "sy_path": lambda stream: "/gemini" + gemini_path(stream),
        "up_path": lambda stream: gemini_path(stream),
        "auth": "x-goog-api-key",
        "extra": "",
        "body": lambda stream: {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]},
    },
    "responses": {
        "kind": "openai-responses",
        "sy_path": lambda stream: "/openai/v1/responses",
        "up_path": lambda stream: "/v1/responses",
        "auth": "authorization",
        "extra": "",
        "body": lambda stream: {"model": "gpt-5", "input": PROMPT, "stream": stream},
    },
}


def gemini_path(stream):
    verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"/v1beta/models/gemini-2.5-flash:{verb}"


# ---------------------------------------------------------------- processes and /proc


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


def pinned(cmd, cpus):
    return ["taskset", "-c", cpus] + cmd if cpus else cmd


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def tree(pid):
    """`pid` and its direct children (nginx: the master and its workers)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [pid] + [int(c) for c in f.read().split()]
    except OSError:
        return [pid]


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLK_TCK


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def wait_quiet(minutes, threshold=1.5):
    """Waits (checking every minute) for the 1-minute load average to drop below `threshold`."""
    start = time.time()
    while True:
        load = loadavg()
        if load < threshold:
            return {"quiet": True, "load": load, "waited_s": time.time() - start}
        if time.time() - start >= minutes * 60:
            return {"quiet": False, "load": load, "waited_s": time.time() - start}
        print(f"load average {load:.2f} >= {threshold}: waiting", flush=True)
        time.sleep(60)


def stop(procs):
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


# ---------------------------------------------------------------- the three servers


def start_mock(target_dir, port, cpus):
    cmd = [os.path.join(target_dir, "release", "mock-upstream"), "--port", str(port), "--workers", "1",
           "--max-records", "0"]
    proc = subprocess.Popen(pinned(cmd, cpus), stdout=subprocess.DEVNULL)
    wait_port(port)
    return proc


def nginx_conf(port, upstream_port, tmp, workers):
    return f"""
worker_processes {workers};
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


def start_nginx(port, upstream_port, tmp, workers, cpus):
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(nginx_conf(port, upstream_port, tmp, workers))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen(pinned([nginx, "-c", conf, "-g", "daemon off;"], cpus), stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


def start_switchyard(target_dir, port, tmp, workers, cpus):
    env = dict(os.environ, SWITCHYARD__SERVER__PORT=str(port), SWITCHYARD__STORE__DATA_DIR=tmp,
               SWITCHYARD__ADMIN__TOKEN=ADMIN, SWITCHYARD__LOG__LEVEL="warn",
               SWITCHYARD__SERVER__WORKERS=str(workers))
    cmd = [os.path.join(target_dir, "release", "switchyard"), "serve"]
    proc = subprocess.Popen(pinned(cmd, cpus), env=env, cwd=tmp, stdout=subprocess.DEVNULL)
    wait_port(port)
    return proc


def admin(method, url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method=method)
    req.add_header("content-type", "application/json")
    req.add_header("authorization", f"Bearer {ADMIN}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def configure_switchyard(base, mock_url, families):
    """One account per family on the mock, and one switchyard key for all of them."""
    for name in families:
        admin("POST", f"{base}/admin/accounts", {"name": f"bench-{name}", "kind": FAMILIES[name]["kind"],
                                                 "base_url": mock_url, "api_key": UPSTREAM_KEY})
    return admin("POST", f"{base}/admin/keys", {"name": "bench"})["key"]


# ---------------------------------------------------------------- requests and wrk


def headers_for(family, key):
    f = FAMILIES[family]
    h = {"content-type": "application/json"}
    h[f["auth"]] = f"Bearer {key}" if f["auth"] == "authorization" else key
    if f["extra"]:
        name, value = f["extra"].split(":", 1)
        h[name.strip()] = value.strip()
    return h


def smoke(url, family, stream, key, body_file):
    """One request before the load: it must answer 200 with the expected content type."""
    with open(body_file, "rb") as f:
        req = urllib.request.Request(url, data=f.read(), method="POST", headers=headers_for(family, key))
    with urllib.request.urlopen(req, timeout=10) as r:
        ctype, body = r.headers.get("content-type", ""), r.read()
    want = "text/event-stream" if stream else "application/json"
    if r.status != 200 or not ctype.startswith(want) or not body:
        raise RuntimeError(f"smoke check failed for {url}: {r.status} {ctype} {body[:200]!r}")


def parse_wrk(out):
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError(f"wrk output not understood:\n{out}")

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(m.group(1)), "requests": requests, "p50": pct(50), "p99": pct(99),
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "socket_errors": sock.group(1).strip() if sock else ""}


def wrk_cmd(url, conns, seconds, cpus):
    threads = 1 if cpus or conns == 1 else 2
    return pinned(["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency", "-s",
                   os.path.join(ROOT, "bench", "post.lua"), url], cpus)


def run_wrk(url, family, key, body_file, conns, seconds, cpus, watch):
    """One bounded wrk run; `watch` are the pids whose CPU time is counted per request."""
    f = FAMILIES[family]
    env = dict(os.environ, BODY_FILE=body_file, API_KEY=key, AUTH_HEADER=f["auth"], EXTRA_HEADERS=f["extra"])
    load = loadavg()
    cpu0 = {k: cpu_seconds(p) for k, p in watch.items()}
    out = subprocess.run(wrk_cmd(url, conns, seconds, cpus), env=env, capture_output=True, text=True,
                         timeout=seconds + 30).stdout
    cpu1 = {k: cpu_seconds(p) for k, p in watch.items()}
    r = parse_wrk(out)
    r["load"] = load
    for k in watch:
        r[f"{k}_cpu_us"] = (cpu1[k] - cpu0[k]) * 1e6 / max(r["requests"], 1)
    return r


# ---------------------------------------------------------------- the run


def measure(args, families, modes, conc, tmp, urls, keys, pids, pin, sy_pid):
    rows = []
    loadgen_cpus, _, _ = pin
    for family in families:
        for stream in modes:
            body_file = os.path.join(tmp, f"body-{family}-{stream}.json")
            with open(body_file, "w") as f:
                json.dump(FAMILIES[family]["body"](stream), f)
            for target in TARGETS:
                smoke(urls[target](family, stream), family, stream, keys[target], body_file)
            for c in conc:
                runs = {target: [] for target in TARGETS}
                # Rounds go through every target in turn, so a noisy minute hits all of them.
                for _ in range(args.repeat):
                    for target in TARGETS:
                        url = urls[target](family, stream)
                        watch = {"upstream": pids["direct"]}
                        if target != "direct":
                            watch["proxy"] = pids[target]
                        if args.warmup:
                            run_wrk(url, family, keys[target], body_file, c, args.warmup, loadgen_cpus, {})
                        r = run_wrk(url, family, keys[target], body_file, c, args.seconds, loadgen_cpus, watch)
                        runs[target].append(r)
                        print(json.dumps(dict(r, family=family, stream=stream, conns=c, target=target)), flush=True)
                for target in TARGETS:
                    r = median_of(runs[target])
                    r.update(family=family, stream=stream, conns=c, target=target, sy_rss_kb=rss_kb(sy_pid))
                    rows.append(r)
    return rows


def median_of(runs):
    """One row from repeated runs of a cell: the median of each figure, every error, and each
    run's req/s (to show the spread)."""
    row = {k: statistics.median(r[k] for r in runs)
           for k in runs[0] if isinstance(runs[0][k], (int, float)) and k != "non2xx"}
    row["non2xx"] = sum(r["non2xx"] for r in runs)
    row["socket_errors"] = " ".join(r["socket_errors"] for r in runs if r["socket_errors"])
    row["rps_runs"] = [r["rps"] for r in runs]
    return row


def run(args):
    families = args.families.split(",")
    modes = [{"json": False, "stream": True}[m] for m in args.modes.split(",")]
    conc = [int(c) for c in args.concurrency.split(",")]
    pin = tuple(args.pin.split(":")) if args.pin != "none" else ("", "", "")
    tmp = tempfile.mkdtemp(prefix="switchyard-load-")
    procs = []
    try:
        mock_port, nginx_port, sy_port = free_port(), free_port(), free_port()
        mock = start_mock(args.target_dir, mock_port, pin[1])
        procs.append(mock)
        nginx = start_nginx(nginx_port, mock_port, tmp, args.proxy_workers, pin[2])
        procs.append(nginx)
        sy = start_switchyard(args.target_dir, sy_port, tmp, args.proxy_workers, pin[2])
        procs.append(sy)
        base = f"http://127.0.0.1:{sy_port}"
        sy_key = configure_switchyard(base, f"http://127.0.0.1:{mock_port}", families)
        time.sleep(1)
        rss_idle = rss_kb(sy.pid)
        urls = {
            "direct": lambda f, s: f"http://127.0.0.1:{mock_port}{FAMILIES[f]['up_path'](s)}",
            "nginx": lambda f, s: f"http://127.0.0.1:{nginx_port}{FAMILIES[f]['up_path'](s)}",
            "switchyard": lambda f, s: f"{base}{FAMILIES[f]['sy_path'](s)}",
        }
        keys = {"direct": UPSTREAM_KEY, "nginx": UPSTREAM_KEY, "switchyard": sy_key}
        pids = {"direct": [mock.pid], "nginx": tree(nginx.pid), "switchyard": [sy.pid]}
        rows = measure(args, families, modes, conc, tmp, urls, keys, pids, pin, sy.pid)
        time.sleep(2)
        rss = {"idle": rss_idle, "peak": rss_kb(sy.pid, "VmHWM"), "after": rss_kb(sy.pid),
               "nginx_peak": sum(rss_kb(p, "VmHWM") for p in pids["nginx"])}
    finally:
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)
    return rows, rss


# ---------------------------------------------------------------- the report


def by_cell(rows):
    cells = {}
    for r in rows:
        cells.setdefault((r["family"], r["stream"], r["conns"]), {})[r["target"]] = r
    return cells


def figures_table(rows):
    lines = ["| family | mode | conns | target | req/s | p50 ms | p99 ms | errors | proxy CPU µs/req | mock CPU µs/req "
             "| req/s of each round |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        errors = r["non2xx"] + (1 if r["socket_errors"] else 0)
        proxy = f"{r['proxy_cpu_us']:.0f}" if "proxy_cpu_us" in r else "–"
        lines.append(f"| {r['family']} | {'stream' if r['stream'] else 'json'} | {r['conns']} | {r['target']} | "
                     f"{r['rps']:.0f} | {r['p50']:.3f} | {r['p99']:.3f} | {errors or 0}"
                     f"{' (' + r['socket_errors'] + ')' if r['socket_errors'] else ''} | {proxy} | "
                     f"{r['upstream_cpu_us']:.0f} | {', '.join(f'{x:.0f}' for x in r['rps_runs'])} |")
    return lines


def ratios_table(rows):
    lines = ["| family | mode | conns | added p50 ms | added p99 ms | switchyard / nginx req/s | "
             "nginx / direct req/s | switchyard CPU / nginx CPU per req | target |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for (family, stream, c), t in by_cell(rows).items():
        d, n, s = t["direct"], t["nginx"], t["switchyard"]
        verdict = "–"
        if c == 1:
            verdict = f"added p99 < 1 ms: {'met' if s['p99'] - d['p99'] < 1 else 'MISSED'}"
        elif c == 256:
            verdict = f"≥ 50 % of nginx: {'met' if s['rps'] / n['rps'] >= 0.5 else 'MISSED'}"
        lines.append(f"| {family} | {'stream' if stream else 'json'} | {c} | {s['p50'] - d['p50']:+.3f} | "
                     f"{s['p99'] - d['p99']:+.3f} | {s['rps'] / n['rps']:.2f} | {n['rps'] / d['rps']:.2f} | "
                     f"{s['proxy_cpu_us'] / max(n['proxy_cpu_us'], 1e-9):.2f} | {verdict} |")
    return lines


def report(args, rows, rss, quiet, started):
    loads = [r["load"] for r in rows]
    rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip()
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    lines = [
        "# Relay load", "",
        f"`python3 bench/load.py {' '.join(sys.argv[1:])}` at {started} (git {rev})", "",
        f"- machine: {os.cpu_count()} CPUs ({model}); CPU placement (taskset, loadgen:mock:proxy): "
        f"{args.pin}; proxy event loops: {args.proxy_workers} (nginx workers = switchyard workers); mock: 1 worker",
        f"- load average before: {quiet['load']:.2f} ({'quiet' if quiet['quiet'] else 'NOT quiet'} after "
        f"waiting {quiet['waited_s'] / 60:.0f} min); during the runs: {min(loads):.2f}–{max(loads):.2f}",
        f"- each run: wrk {args.seconds} s after a {args.warmup} s warm-up; {args.repeat} round(s) per cell "
        f"(figures are medians); tool: `wrk` + `bench/post.lua`", "",
        "## Figures", "", *figures_table(rows), "",
        "## Ratios (same run)", "", *ratios_table(rows), "",
        f"switchyard RSS: idle {rss['idle'] / 1024:.1f} MiB, peak under load {rss['peak'] / 1024:.1f} MiB, "
        f"after the load {rss['after'] / 1024:.1f} MiB (nginx master + workers peak: "
        f"{rss['nginx_peak'] / 1024:.1f} MiB)",
    ]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds per cell; each figure is the median of the rounds")
    ap.add_argument("--concurrency", default="1,32,256")
    ap.add_argument("--families", default="claude,gemini,responses")
    ap.add_argument("--modes", default="json,stream")
    ap.add_argument("--pin", default="0:0:1", help="taskset CPU lists loadgen:mock:proxy, or 'none'")
    ap.add_argument("--proxy-workers", type=int, default=1)
    ap.add_argument("--wait-quiet", type=float, default=0, help="minutes to wait for load average < 1.5")
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-out", "load.md"))
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    for tool in ("wrk", "nginx", "taskset"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"{tool} is required (apt-get install {tool})")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "switchyard", "--bin", "switchyard",
                        "-p", "mock-upstream", "--bin", "mock-upstream"], cwd=ROOT, check=True,
                       env=dict(os.environ, CARGO_TARGET_DIR=args.target_dir))
    quiet = wait_quiet(args.wait_quiet) if args.wait_quiet else {"quiet": loadavg() < 1.5, "load": loadavg(),
                                                                 "waited_s": 0}
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    rows, rss = run(args)
    text = report(args, rows, rss, quiet, started)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text + "\n")
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump({"rows": rows, "rss_kb": rss, "quiet": quiet}, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
