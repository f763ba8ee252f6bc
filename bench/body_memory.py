#!/usr/bin/env python3
"""Body-memory benchmark: how much memory a key holder can make switchyard hold with request
bodies. Starts the mock upstream and switchyard (release builds) on 127.0.0.1, and measures
switchyard's RSS (VmRSS) before and its peak (VmHWM) in each case, each case on a fresh switchyard
process:

  gemini-24   one 24 MiB Gemini body {"contents":[0,0,...]}
  claude-24   one 24 MiB Claude body {"messages":[{},{},...]}
  uploads-6   six unfinished 98 MiB uploads at once with a key whose concurrency limit is 1
              (each sends as much as the server accepts within 3 s, then holds its connection)

Bounded: one request per body case, six connections for the uploads, every socket with a
timeout. Switchyard runs with body_limit_mb = 100 and key_body_memory_mb = 128, so the 98 MiB
uploads are within every size bound and only the concurrency limit stands in their way.

    python3 bench/body_memory.py [--switchyard PATH] [--mock PATH] [--label NAME] [--out FILE]

Needs release builds (`cargo build --release -p switchyard --bin switchyard -p mock-upstream
--bin mock-upstream`); the paths default to target/release.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (the load benchmark's process helpers)

MIB = 1 << 20


def rss_mib(pid, field):
    return load.rss_kb(pid, field) / 1024


def reset_peak(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def send(port, path, headers, body, timeout=120):
    """One request over a raw socket; returns the status."""
    head = f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {len(body)}\r\nconnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode() + body)
        answer = b""
        while b"\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer[9:12]) if len(answer) >= 12 else 0


def unfinished_upload(port, path, key, declared, results, i, hold):
    """Sends a head declaring `declared` bytes and as much body as is accepted within 3 s, then
    keeps the connection open until `hold` is set; records how many bytes went and any status."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall((f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: {key}\r\n"
               f"content-type: application/json\r\ncontent-length: {declared}\r\n\r\n").encode())
    sent, status = 0, None
    block = b" " * MIB
    deadline = time.time() + 3
    s.settimeout(0.2)
    while sent < declared - MIB and time.time() < deadline:
        try:
            sent += s.send(block)
        except socket.timeout:
            pass
        except OSError:
            break
    try:
        data = s.recv(4096)
        if data.startswith(b"HTTP/1.1 "):
            status = int(data[9:12])
    except OSError:
        pass
    results[i] = {"sent_mib": round(sent / MIB, 1), "status": status}
    hold.wait(30)
    s.close()


def start(args, tmp, mock_url):
    """A fresh switchyard with one account per family and a key limited to one request."""
    port = load.free_port()
    data = tempfile.mkdtemp(dir=tmp)
    env = dict(os.environ, SWITCHYARD__SERVER__PORT=str(port), SWITCHYARD__STORE__DATA_DIR=data,
               SWITCHYARD__ADMIN__TOKEN=load.ADMIN, SWITCHYARD__LOG__LEVEL="error",
               SWITCHYARD__SERVER__BODY_LIMIT_MB="100")
    # Only builds that know the setting get it (the baseline refuses unknown keys).
    check = dict(env, SWITCHYARD__SERVER__KEY_BODY_MEMORY_MB="128")
    if subprocess.run([args.switchyard, "config", "check"], env=check, capture_output=True, cwd=data).returncode == 0:
        env = check
    sy = subprocess.Popen([args.switchyard, "serve"], env=env, cwd=data, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    load.wait_port(port)
    base = f"http://127.0.0.1:{port}"
    for kind in ("claude-console", "gemini-api"):
        load.admin("POST", f"{base}/admin/accounts",
                   {"name": kind, "kind": kind, "base_url": mock_url, "api_key": load.UPSTREAM_KEY})
    key = load.admin("POST", f"{base}/admin/keys", {"name": "one-at-a-time", "concurrency_limit": 1})["key"]
    time.sleep(0.5)
    return sy, port, key


def body_case(args, tmp, mock_url, name, path, auth, body):
    sy, port, key = start(args, tmp, mock_url)
    try:
        headers = {auth: key, "content-type": "application/json", "anthropic-version": "2023-06-01"}
        reset_peak(sy.pid)
        before = rss_mib(sy.pid, "VmRSS")
        status = send(port, path, headers, body)
        peak = rss_mib(sy.pid, "VmHWM")
    finally:
        load.stop([sy])
    return {"case": name, "status": status, "body_mib": round(len(body) / MIB, 1),
            "rss_before_mib": round(before, 1), "peak_mib": round(peak, 1),
            "peak_growth_mib": round(peak - before, 1)}


def uploads_case(args, tmp, mock_url):
    sy, port, key = start(args, tmp, mock_url)
    try:
        reset_peak(sy.pid)
        before = rss_mib(sy.pid, "VmRSS")
        results, hold = [None] * 6, threading.Event()
        threads = [threading.Thread(target=unfinished_upload,
                                    args=(port, "/v1/messages", key, 98 * MIB, results, i, hold)) for i in range(6)]
        for t in threads:
            t.start()
        time.sleep(5)
        held = rss_mib(sy.pid, "VmRSS")
        peak = rss_mib(sy.pid, "VmHWM")
        hold.set()
        for t in threads:
            t.join(40)
    finally:
        load.stop([sy])
    return {"case": "uploads-6", "status": [r and r["status"] for r in results],
            "sent_mib": [r and r["sent_mib"] for r in results], "rss_before_mib": round(before, 1),
            "held_mib": round(held, 1), "peak_mib": round(peak, 1), "peak_growth_mib": round(peak - before, 1)}


def main():
    root = load.ROOT
    ap = argparse.ArgumentParser()
    ap.add_argument("--switchyard", default=os.path.join(root, "target", "release", "switchyard"))
    ap.add_argument("--mock", default=os.path.join(root, "target", "release", "mock-upstream"))
    ap.add_argument("--label", default="this build")
    ap.add_argument("--out", default=os.path.join(root, "bench-out", "body_memory.json"))
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="sy-bodymem-")
    mock_port = load.free_port()
    mock = subprocess.Popen([args.mock, "--port", str(mock_port), "--workers", "1", "--max-records", "0"],
                            stdout=subprocess.DEVNULL)
    try:
        load.wait_port(mock_port)
        mock_url = f"http://127.0.0.1:{mock_port}"
        # Each case on a fresh process: memory an allocator keeps from one case would hide the next.
        n = 24 * MIB // 2
        gemini = b'{"contents":[' + b"0," * (n - 8) + b"0]}"
        rows = [body_case(args, tmp, mock_url, "gemini-24", "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
                          "x-goog-api-key", gemini)]
        del gemini
        n = 24 * MIB // 3
        claude = (b'{"model":"claude-sonnet-5","max_tokens":5,"messages":[' + b"{}," * (n - 30)
                  + b'{"role":"user","content":"hi"}]}')
        rows.append(body_case(args, tmp, mock_url, "claude-24", "/v1/messages", "x-api-key", claude))
        del claude
        rows.append(uploads_case(args, tmp, mock_url))
    finally:
        load.stop([mock])
    report = {"label": args.label, "switchyard": args.switchyard, "cases": rows}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"## {args.label}")
    print("| case | status | RSS before (MiB) | peak (MiB) | peak growth (MiB) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['status']} | {r['rss_before_mib']} | {r['peak_mib']} | {r['peak_growth_mib']} |")
    uploads = rows[-1]
    print(f"uploads-6: bytes sent per connection (MiB) {uploads['sent_mib']}, RSS while held {uploads['held_mib']} MiB")


if __name__ == "__main__":
    main()
