#!/usr/bin/env python3
"""`make bench`: measures a release build of Parley on this machine, beside its floors, in one run.

Measured so far (issue 6, part one):
  * footprint: binary size, start-to-ready time, idle RSS;
  * token minting (POST /api/v1/embed/generate-token, audit writes on) against the floor of the
    same server's GET /healthz, with wrk at 32 connections;
  * history: p99 of GET …/messages?limit=50 and of the conversation list with 1,000,000 messages
    in the database (seeded here).
Every figure is the median of RUNS runs. Results go to bench/results.md and standard output.
Reply relay overhead against nginx and the 5,000-stream test are still to come.
"""

import json
import os
import platform
import re
import secrets
import socket
import sqlite3
import statistics
import string
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, ".build/release/parley")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
DURATION = os.environ.get("BENCH_DURATION", "8s")
CONNECTIONS = 32


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Server:
    def __init__(self, data):
        self.admin = "sk_admin_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PARLEY_ADMIN_KEY=self.admin, PARLEY_DATA_DIR=data, PARLEY_PORT=str(self.port), PARLEY_LOG_LEVEL="error")
        started = time.monotonic()
        self.process = subprocess.Popen([BINARY, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                urllib.request.urlopen(self.base + "/readyz", timeout=1)
                break
            except OSError:
                if time.monotonic() - started > 30:
                    raise RuntimeError("parley did not start")
                time.sleep(0.002)
        self.ready_ms = (time.monotonic() - started) * 1000

    def call(self, method, path, body=None, key=None):
        request = urllib.request.Request(self.base + path, method=method, data=json.dumps(body).encode() if body is not None else None)
        request.add_header("Authorization", "Bearer " + (key or self.admin))
        if body is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


def wrk(base, script, env):
    """One wrk run; returns requests/s, p50 and p99 in ms, and errors."""
    output = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency", "-s", os.path.join(ROOT, "bench", script), base],
        env=dict(os.environ, **env), capture_output=True, text=True, check=True).stdout

    def millis(label):
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, flags=re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = re.search(r"BENCH errors=(\d+) non2xx=(\d+)", output)
    return {"rps": rate, "p50": millis("50"), "p99": millis("99"), "errors": int(errors.group(1)) + int(errors.group(2))}


def median_of(runs):
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def seed_history(database, workspace, bot, user, messages=1_000_000, per_conversation=100):
    """Writes `messages` messages in conversations of `per_conversation`, straight into SQLite."""
    connection = sqlite3.connect(database)
    now = int(time.time() * 1000)
    conversations = messages // per_conversation
    with connection:
        connection.executemany(
            "INSERT INTO conversations (id, workspace_id, user_id, bot_id, title, last_message_preview, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ((f"conv_bench{index:011d}", workspace, user, bot, f"Conversation {index}", "…", now + index, now + index)
             for index in range(conversations)))
        text = "A benchmark message of a typical length, about as long as a short reply from a model. " * 3

        def rows():
            for index in range(messages):
                conversation = index // per_conversation
                role = "user" if index % 2 == 0 else "assistant"
                yield (f"msg_bench{index:012d}", f"conv_bench{conversation:011d}", workspace, user, bot, role, text,
                       None if role == "user" else "complete", now + index, now + index)

        connection.executemany(
            "INSERT INTO messages (id, conversation_id, workspace_id, user_id, bot_id, role, content, status, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows())
    connection.close()
    return f"conv_bench{conversations // 2:011d}"


def main():
    results = {}
    data = tempfile.mkdtemp(prefix="parley-bench-")

    # Footprint: fresh data directory each time, so ready time includes migrating.
    readies, idles = [], []
    for run in range(RUNS):
        server = Server(tempfile.mkdtemp(prefix="parley-bench-fresh-"))
        readies.append(server.ready_ms)
        time.sleep(2)
        idles.append(rss_kib(server.process.pid) / 1024)
        server.stop()
    results["footprint"] = {"binary_mib": os.path.getsize(BINARY) / 1048576, "ready_ms": statistics.median(readies), "idle_rss_mib": statistics.median(idles)}

    # Minting against /healthz, on one server.
    server = Server(data)
    workspace = server.call("POST", "/admin/v1/workspaces", {"name": "Bench", "settings": {"token_mint_rate_per_second": 1000000, "token_mint_burst": 1000000}})["id"]
    bot = server.call("POST", f"/admin/v1/workspaces/{workspace}/bots", {"name": "B", "provider": {"kind": "openai", "model": "m"}})["id"]
    key = server.call("POST", f"/admin/v1/workspaces/{workspace}/api-keys", {"name": "bench", "scope": "tokens"})["key"]
    healthz = [wrk(server.base, "get.lua", {"BENCH_PATH": "/healthz"}) for _ in range(RUNS)]
    mint = [wrk(server.base, "mint.lua", {"BENCH_KEY": key, "BENCH_WORKSPACE": workspace}) for _ in range(RUNS)]
    results["healthz"], results["mint"] = median_of(healthz), median_of(mint)
    token = server.call("POST", "/api/v1/embed/generate-token", {"workspaceId": workspace, "userContext": {"id": "history-user"}}, key=key)["embedToken"]
    server.stop()

    # History at 1,000,000 messages.
    conversation = seed_history(os.path.join(data, "parley.sqlite"), workspace, bot, "history-user")
    server = Server(data)
    history = [wrk(server.base, "get.lua", {"BENCH_TOKEN": token, "BENCH_PATH": f"/v1/conversations/{conversation}/messages?limit=50"}) for _ in range(RUNS)]
    listing = [wrk(server.base, "get.lua", {"BENCH_TOKEN": token, "BENCH_PATH": "/v1/conversations?limit=20"}) for _ in range(RUNS)]
    results["history_messages"], results["history_list"] = median_of(history), median_of(listing)
    server.stop()

    report(results)


def report(results):
    f, h, m = results["footprint"], results["healthz"], results["mint"]
    machine = f"{platform.platform()}, {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    rows = [
        ("Minting, tokens/s (32 connections)", f"{m['rps']:,.0f}", "≥ 5,000", f"{m['rps'] / h['rps']:.2f} × /healthz ({h['rps']:,.0f}/s)"),
        ("Minting p50 / p99", f"{m['p50']:.2f} / {m['p99']:.2f} ms", "p99 ≤ 20 ms", f"/healthz {h['p50']:.2f} / {h['p99']:.2f} ms"),
        ("Minting errors", f"{m['errors']:.0f}", "0", ""),
        ("History: messages?limit=50 p99 (1M messages)", f"{results['history_messages']['p99']:.2f} ms", "≤ 10 ms",
         f"p50 {results['history_messages']['p50']:.2f} ms, {results['history_messages']['rps']:,.0f}/s"),
        ("History: conversation list p99 (1M messages)", f"{results['history_list']['p99']:.2f} ms", "≤ 10 ms",
         f"p50 {results['history_list']['p50']:.2f} ms, {results['history_list']['rps']:,.0f}/s"),
        ("Idle RSS", f"{f['idle_rss_mib']:.1f} MiB", "≤ 40 MiB", ""),
        ("Start to ready (fresh data dir)", f"{f['ready_ms']:.0f} ms", "≤ 300 ms", ""),
        ("Binary size (release)", f"{f['binary_mib']:.1f} MiB", "", ""),
    ]
    table = "| measure | Parley | target | floor / notes |\n|---|---|---|---|\n" + "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    text = f"""# Parley benchmark results

Machine: {machine}. Release build, wrk 2 threads × {CONNECTIONS} connections for {DURATION}, medians of {RUNS} runs,
all in one `make bench` run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.

{table}

Not measured yet: reply relay overhead against nginx, 5,000 concurrent streams.
"""
    print(text)
    with open(os.path.join(ROOT, "bench", "results.md"), "w") as output:
        output.write(text)


if __name__ == "__main__":
    sys.exit(main())
