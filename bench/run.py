#!/usr/bin/env python3
"""`make bench`: measures a release build of Parley on this machine, beside its floors, in one run.

  * footprint: binary size, start-to-ready time, idle RSS;
  * token minting (POST /api/v1/embed/generate-token, audit writes on) against the floor of the
    same server's GET /healthz, with wrk at 32 connections, and the bare mint on Parley's stack (a
    signature and a group-committed insert, nothing else) against its own GET /healthz;
  * reply relay: time to first token and total time of a 50-chunk reply (20 ms apart) straight
    from the fast provider, through nginx (proxy_buffering off), through the bare relay on Parley's
    stack (Hummingbird and libcurl passing bytes through) and through Parley, at 1, 100 and 1,000
    concurrent streams;
  * concurrent streams: N long replies held open at once (1,000, 2,500, 5,000): errors, peak RSS,
    RSS per stream, CPU;
  * history: p99 of GET …/messages?limit=50 and of the conversation list with 1,000,000 messages
    in the database (seeded here).
Every figure is the median of RUNS runs. Results go to bench/results.md and standard output.
The fast provider and the stream client are `parley-bench` (Sources/ParleyBench), compiled, so
that neither is what the relay figures measure.
"""

import contextlib
import json
import os
import platform
import re
import resource
import secrets
import shutil
import socket
import sqlite3
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, ".build/release/parley")
BENCH = os.path.join(ROOT, ".build/release/parley-bench")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
DURATION = os.environ.get("BENCH_DURATION", "8s")
CONNECTIONS = 32
RELAY_CONCURRENCY = [1, 100, 1000]
HOLD_STREAMS = [int(n) for n in os.environ.get("BENCH_HOLD_STREAMS", "1000,2500,5000").split(",")]
HOLD_SECONDS = int(os.environ.get("BENCH_HOLD_SECONDS", "20"))


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


def resident_split_kib(pid):
    """(anonymous, file-backed) resident memory: the process's own heap and stacks versus the code
    and read-only data of its binary and shared libraries, which the kernel can drop and re-read."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                fields[parts[0].rstrip(":")] = int(parts[1])
    return fields.get("Anonymous", 0), fields.get("Rss", 0) - fields.get("Anonymous", 0)


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ticks():
    """The machine's CPU time so far, in clock ticks: (all of it, the part stolen by the hypervisor).

    On a virtual machine whose host is busy, the guest's vCPUs wait while other guests run; the
    kernel counts that wait as `steal` in /proc/stat. It slows every figure of a run at once."""
    fields = [int(value) for value in open("/proc/stat").readline().split()[1:9]]
    return sum(fields), fields[7]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


class Server:
    """`parley serve` on a free port over `data`, with a fresh operator key; returns once /readyz answers.

    `launcher` goes before the binary, `stderr` is where its
    output goes, and `start_timeout` is how long it may take to become ready.
    """

    def __init__(self, data, launcher=(), stderr=subprocess.DEVNULL, start_timeout=30, **extra_env):
        self.admin = "sk_admin_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PARLEY_ADMIN_KEY=self.admin, PARLEY_DATA_DIR=data, PARLEY_PORT=str(self.port), PARLEY_LOG_LEVEL="error")
        env.update(extra_env)
        started = time.monotonic()
        self.process = subprocess.Popen([*launcher, BINARY, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        while True:
            try:
                urllib.request.urlopen(self.base + "/readyz", timeout=1)
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() - started > start_timeout:
                    self.process.kill()
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


class Provider:
    """The fast OpenAI-compatible provider: `chunks` chunks, `interval_ms` apart."""

    def __init__(self, chunks=50, interval_ms=20):
        self.process = subprocess.Popen([BENCH, "provider", "--chunks", str(chunks), "--interval-ms", str(interval_ms)],
                                        stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline().split()[1])

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


# Every folder a run makes (data folders, one of them seeded with a million messages, over 600 MB;
# nginx's prefix) lives under one root, removed when the run ends.
_scratch_root = None


def scratch(prefix):
    """A new empty folder under the run's root (under the system's temporary folder outside a run)."""
    return tempfile.mkdtemp(prefix=prefix, dir=_scratch_root)


@contextlib.contextmanager
def scratch_root(prefix):
    """Makes the root `scratch` folders go under for the `with` block, and removes it afterwards:
    kept when the block fails, for inspection, or when BENCH_KEEP_DATA is set."""
    global _scratch_root
    _scratch_root = tempfile.mkdtemp(prefix=prefix)
    try:
        yield _scratch_root
    except BaseException:
        print(f"the run's folders are kept in {_scratch_root}", file=sys.stderr)
        raise
    else:
        if os.environ.get("BENCH_KEEP_DATA"):
            print(f"the run's folders are kept in {_scratch_root}", file=sys.stderr)
        else:
            shutil.rmtree(_scratch_root, ignore_errors=True)
    finally:
        _scratch_root = None


class Nginx:
    """nginx relaying the provider with proxy_buffering off: the floor for a streaming relay."""

    def __init__(self, upstream_port):
        self.prefix = scratch("nginx-")
        self.port = free_port()
        with open(os.path.join(self.prefix, "nginx.conf"), "w") as conf:
            conf.write(f"""
worker_processes auto;
worker_rlimit_nofile 30000;
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/error.log error;
events {{ worker_connections 12000; }}
http {{
  access_log off;
  client_body_temp_path {self.prefix}/body;
  proxy_temp_path {self.prefix}/proxy;
  upstream provider {{ server 127.0.0.1:{upstream_port}; keepalive 1024; }}
  server {{
    listen 127.0.0.1:{self.port} backlog=8192;
    location / {{
      proxy_pass http://provider;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
""")
        self.process = subprocess.Popen(["nginx", "-p", self.prefix, "-c", "nginx.conf", "-g", "daemon off;"])
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start")
                time.sleep(0.02)

    def cpu_seconds(self):
        """CPU used so far by the master and its workers."""
        workers = []
        for entry in os.listdir("/proc"):
            try:
                if entry.isdigit() and int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    workers.append(int(entry))
            except OSError:
                pass
        return sum(cpu_seconds(pid) for pid in [self.process.pid, *workers])

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


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


def streams(port, requests, concurrency, first_marker, end_marker, spread_ms=0):
    """Runs `parley-bench streams`; returns p50/p99 of time to first token and of total time, and errors.

    With `spread_ms`, the streams' first requests are spread evenly over that time instead of all
    being sent at the same instant."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as plan:
        plan.write("\n".join(json.dumps(request) for request in requests))
    output = subprocess.run(
        [BENCH, "streams", "--port", str(port), "--requests", plan.name, "--concurrency", str(concurrency),
         "--first-marker", first_marker, "--end-marker", end_marker, "--spread-ms", str(spread_ms)],
        capture_output=True, text=True, check=True).stdout
    os.unlink(plan.name)
    report = json.loads(output)
    if report["errors"]:
        print(f"  {report['errors']} errors, e.g. {report['error_samples']}", file=sys.stderr)
    return {"ttft_p50": percentile(report["ttft_ms"], 0.5), "ttft_p99": percentile(report["ttft_ms"], 0.99),
            "total_p50": percentile(report["total_ms"], 0.5), "total_p99": percentile(report["total_ms"], 0.99),
            "errors": report["errors"]}


PROVIDER_REQUEST = {"path": "/v1/chat/completions", "headers": {"Content-Type": "application/json"},
                    "body": json.dumps({"model": "bench", "stream": True, "messages": [{"role": "user", "content": "Hello"}]})}
PROVIDER_MARKERS = ('"content":"', "data: [DONE]")
PARLEY_MARKERS = ("event: response.delta", "event: response.completed")


class ChatTenant:
    """A workspace with limits lifted for load, a bot per provider, one user's token and conversations."""

    def __init__(self, server, conversations):
        self.server = server
        settings = {"messages_per_minute": 100000, "max_concurrent_replies": 100000, "max_token_ttl": 86400}
        self.workspace = server.call("POST", "/admin/v1/workspaces", {"name": "Relay", "settings": settings})["id"]
        self.key = server.call("POST", f"/admin/v1/workspaces/{self.workspace}/api-keys", {"name": "bench", "scope": "tokens"})["key"]
        self.tokens = {}
        self.conversations = {}
        self.count = conversations

    def add_bot(self, name, provider_port):
        bot = self.server.call("POST", f"/admin/v1/workspaces/{self.workspace}/bots", {"name": name, "max_output_tokens": 4096, "provider": {
            "kind": "openai", "base_url": f"http://127.0.0.1:{provider_port}/v1", "model": "bench", "api_key": "sk-bench"}})["id"]
        token = self.server.call("POST", "/api/v1/embed/generate-token", {
            "workspaceId": self.workspace, "botId": bot, "userContext": {"id": "relay-" + name}, "ttlSeconds": 86400}, key=self.key)["embedToken"]
        self.tokens[name] = token
        self.conversations[name] = [self.server.call("POST", "/v1/conversations", {}, key=token)["id"] for _ in range(self.count)]

    def requests(self, name, count):
        token = self.tokens[name]
        return [{"path": f"/v1/conversations/{cid}/messages",
                 "headers": {"Content-Type": "application/json", "Authorization": "Bearer " + token},
                 # A fresh client_message_id on every post, as the widget sends (so no post is a repeat).
                 "body": json.dumps({"content": "Hello", "client_message_id": secrets.token_hex(16)})}
                for cid in self.conversations[name][:count]]


def with_cpu_per_stream(cpu, count, measure):
    """`measure()`'s figures plus the relay's CPU time per stream (ms), from its `cpu()` before and after:
    what each stream costs the relay, whatever the machine's other load."""
    before = cpu()
    figures = measure()
    figures["cpu_ms_per_stream"] = (cpu() - before) * 1000 / count
    return figures


def relay_counts(concurrency):
    """How many streams one relay measurement opens at a concurrency: enough for a p99."""
    return {1: 30, 100: 300}.get(concurrency, concurrency)


# Two ways for N streams to be in flight: all N requests sent at the same instant (a burst, which
# stays a burst: every reply lasts the same time), or their arrivals spread over one reply's
# length (1 s), the steady state of N users chatting. One stream has only the first.
RELAY_SPREAD_MS = 1000


def relay_arrivals(concurrency):
    return [("burst", 0)] + ([("spread", RELAY_SPREAD_MS)] if concurrency > 1 else [])


def measure_relay(results, data):
    provider = Provider(chunks=50, interval_ms=20)
    nginx = Nginx(provider.port)
    bare = HelperServer("bare-relay", "--upstream-port", str(provider.port))
    durable = HelperServer("bare-relay", "--upstream-port", str(provider.port), "--data", scratch("bare-relay-"))
    server = Server(data, PARLEY_ALLOW_PRIVATE_UPSTREAMS="1", PARLEY_SQLITE_SYNCHRONOUS="full")
    tenant = ChatTenant(server, max(relay_counts(c) for c in RELAY_CONCURRENCY))
    tenant.add_bot("fast", provider.port)
    for concurrency in RELAY_CONCURRENCY:
        count = relay_counts(concurrency)
        for arrival, spread in relay_arrivals(concurrency):
            runs = {"direct": [], "nginx": [], "bare": [], "durable": [], "parley": []}
            for _ in range(RUNS):
                runs["direct"].append(streams(provider.port, [PROVIDER_REQUEST] * count, concurrency, *PROVIDER_MARKERS, spread))
                # The floors relay the provider's own requests and answers.
                for name, floor in (("nginx", nginx), ("bare", bare), ("durable", durable)):
                    runs[name].append(with_cpu_per_stream(floor.cpu_seconds, count, lambda: streams(
                        floor.port, [PROVIDER_REQUEST] * count, concurrency, *PROVIDER_MARKERS, spread)))
                runs["parley"].append(with_cpu_per_stream(lambda: cpu_seconds(server.process.pid), count, lambda: streams(
                    server.port, tenant.requests("fast", count), concurrency, *PARLEY_MARKERS, spread)))
            key = f"relay_{concurrency}_{arrival}"
            results[key] = {path: median_of(measured) for path, measured in runs.items()}
            print(f"relay at {concurrency} ({arrival}): {results[key]}", file=sys.stderr)
    server.stop()
    durable.stop()
    bare.stop()
    nginx.stop()
    provider.stop()


def measure_hold(results, data):
    """N replies of HOLD_SECONDS held open at once; RSS sampled every 100 ms meanwhile.

    Each N gets a fresh server, so its figure is everything N streams cost a new process: a
    server that held streams before keeps that memory for reuse, and the next N would look
    cheaper than it is."""
    provider = Provider(chunks=HOLD_SECONDS, interval_ms=1000)
    for count in HOLD_STREAMS:
        server = Server(os.path.join(data, str(count)), PARLEY_ALLOW_PRIVATE_UPSTREAMS="1")
        tenant = ChatTenant(server, count)
        tenant.add_bot("slow", provider.port)
        time.sleep(1)
        before = rss_kib(server.process.pid)
        peak = [before]
        done = threading.Event()

        def sample():
            while not done.wait(0.1):
                peak[0] = max(peak[0], rss_kib(server.process.pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        cpu_before, started = cpu_seconds(server.process.pid), time.monotonic()
        measured = streams(server.port, tenant.requests("slow", count), count, *PARLEY_MARKERS)
        cpu = (cpu_seconds(server.process.pid) - cpu_before) / (time.monotonic() - started)
        done.set()
        sampler.join()
        results[f"hold_{count}"] = {"errors": measured["errors"], "before_mib": before / 1024, "peak_mib": peak[0] / 1024,
                                    "per_stream_kib": (peak[0] - before) / count, "cpu_cores": cpu,
                                    "ttft_p99": measured["ttft_p99"]}
        print(f"hold {count}: {results[f'hold_{count}']}", file=sys.stderr)
        server.stop()
    provider.stop()


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


class HelperServer:
    """A `parley-bench` server subcommand on a free port, ready once it answers `GET /readyz`:
    `idle-server` (Hummingbird with one route, the floor for Parley's idle memory), `bare-relay`
    (Hummingbird and libcurl passing the provider's bytes through, the floor for Parley's relay on
    its own stack) or `bare-mint` (a signature and a durable insert, the floor for minting)."""

    def __init__(self, command, *arguments):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([BENCH, command, "--port", str(self.port), *arguments],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.monotonic()
        while True:
            try:
                urllib.request.urlopen(f"{self.base}/readyz", timeout=1)
                return
            except OSError:
                if time.monotonic() - started > 30:
                    raise RuntimeError(f"parley-bench {command} did not start")
                time.sleep(0.002)

    def cpu_seconds(self):
        return cpu_seconds(self.process.pid)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def resident_after_rest(process):
    """(RSS, anonymous, file-backed) in MiB, 2 s after the process became ready."""
    time.sleep(2)
    anonymous, mapped = resident_split_kib(process.pid)
    return rss_kib(process.pid) / 1024, anonymous / 1024, mapped / 1024


def measure_footprint(results):
    """Fresh data directory each time, so ready time includes creating and migrating the database.
    Beside each Parley, the idle Hummingbird server is measured the same way."""
    readies, parley, floor = [], [], []
    for _ in range(RUNS):
        server = Server(scratch("fresh-"))
        readies.append(server.ready_ms)
        parley.append(resident_after_rest(server.process))
        server.stop()
        idle = HelperServer("idle-server")
        floor.append(resident_after_rest(idle.process))
        idle.stop()
    results["footprint"] = {"binary_mib": os.path.getsize(BINARY) / 1048576, "ready_ms": statistics.median(readies),
                            "idle_rss_mib": statistics.median(r[0] for r in parley),
                            "idle_anon_mib": statistics.median(r[1] for r in parley),
                            "idle_file_mib": statistics.median(r[2] for r in parley),
                            "floor_rss_mib": statistics.median(r[0] for r in floor),
                            "floor_anon_mib": statistics.median(r[1] for r in floor),
                            "floor_file_mib": statistics.median(r[2] for r in floor)}


def healthz_and_mint(base, key, workspace):
    """The medians of `RUNS` wrk runs of `GET /healthz`, then of minting, on the server at `base`."""
    healthz = [wrk(base, "get.lua", {"BENCH_PATH": "/healthz"}) for _ in range(RUNS)]
    mint = [wrk(base, "mint.lua", {"BENCH_KEY": key, "BENCH_WORKSPACE": workspace}) for _ in range(RUNS)]
    return median_of(healthz), median_of(mint)


def measure_minting_and_history(results, data):
    server = Server(data)
    workspace = server.call("POST", "/admin/v1/workspaces", {"name": "Bench", "settings": {"token_mint_rate_per_second": 1000000, "token_mint_burst": 1000000}})["id"]
    bot = server.call("POST", f"/admin/v1/workspaces/{workspace}/bots", {"name": "B", "provider": {"kind": "openai", "model": "m"}})["id"]
    key = server.call("POST", f"/admin/v1/workspaces/{workspace}/api-keys", {"name": "bench", "scope": "tokens"})["key"]
    results["healthz"], results["mint"] = healthz_and_mint(server.base, key, workspace)
    server.stop()

    floor = HelperServer("bare-mint", "--data", scratch("bare-mint-"))
    results["bare_healthz"], results["bare_mint"] = healthz_and_mint(floor.base, "unchecked", workspace)
    floor.stop()

    conversation = seed_history(os.path.join(data, "parley.sqlite"), workspace, bot, "history-user")
    server = Server(data)
    # Minted by this server: a token's issuer is the server's URL, and this one listens on a new port.
    token = server.call("POST", "/api/v1/embed/generate-token", {"workspaceId": workspace, "userContext": {"id": "history-user"}}, key=key)["embedToken"]
    history = [wrk(server.base, "get.lua", {"BENCH_TOKEN": token, "BENCH_PATH": f"/v1/conversations/{conversation}/messages?limit=50"}) for _ in range(RUNS)]
    listing = [wrk(server.base, "get.lua", {"BENCH_TOKEN": token, "BENCH_PATH": "/v1/conversations?limit=20"}) for _ in range(RUNS)]
    results["history_messages"], results["history_list"] = median_of(history), median_of(listing)
    server.stop()


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    only = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
    results = {}
    steps = [("footprint", lambda: measure_footprint(results)),
             ("mint", lambda: measure_minting_and_history(results, scratch("mint-"))),
             ("relay", lambda: measure_relay(results, scratch("relay-"))),
             ("hold", lambda: measure_hold(results, scratch("hold-")))]
    results["steal"] = {}
    with scratch_root("parley-bench-"):
        for name, step in steps:
            if not only or name in only:
                print(f"measuring {name}…", file=sys.stderr)
                total_before, stolen_before = cpu_ticks()
                step()
                total_after, stolen_after = cpu_ticks()
                if total_after > total_before:
                    results["steal"][name] = (stolen_after - stolen_before) / (total_after - total_before)
    report(results)


def ratio_note(template, value, floor):
    """`template` filled with value / floor ("; 3.1 × nginx's added p50"), or nothing when `floor`
    is not above zero: a multiple of nothing, or of a negative, says nothing."""
    return template.format(value / floor) if floor > 0 else ""


def first_token_cell(measured, added):
    """A relay's time to first token, p50 / p99, with what it adds over the provider's."""
    return f"{measured['ttft_p50']:.2f} / {measured['ttft_p99']:.2f} ms (+{added['p50']:.2f} / +{added['p99']:.2f})"


def added_over(direct, measured):
    """The time to first token `measured` adds over `direct`, at p50 and p99."""
    return {q: measured[f"ttft_{q}"] - direct[f"ttft_{q}"] for q in ("p50", "p99")}


def report(results):
    rows = []
    if "footprint" in results:
        f = results["footprint"]
        rows += [
            ("Idle RSS", f"{f['idle_rss_mib']:.1f} MiB", "≤ 40 MiB",
             f"{f['idle_anon_mib']:.1f} MiB anonymous (heap, stacks); {f['idle_file_mib']:.1f} MiB file-backed code of the binary and shared libraries. "
             f"Floor, Hummingbird with one route (`parley-bench idle-server`): {f['floor_rss_mib']:.1f} MiB "
             f"({f['floor_anon_mib']:.1f} anonymous, {f['floor_file_mib']:.1f} file-backed); "
             f"{f['idle_rss_mib'] / f['floor_rss_mib']:.2f} ×"),
            ("Start to ready (fresh data dir)", f"{f['ready_ms']:.0f} ms", "≤ 300 ms", ""),
            ("Binary size (release)", f"{f['binary_mib']:.1f} MiB", "", ""),
        ]
    if "mint" in results:
        h, m, bh, bm = results["healthz"], results["mint"], results["bare_healthz"], results["bare_mint"]
        rows += [
            ("Minting, tokens/s (32 connections)", f"{m['rps']:,.0f}", "≥ 5,000 and ≥ 0.5 × /healthz", f"{m['rps'] / h['rps']:.2f} × /healthz ({h['rps']:,.0f}/s)"),
            ("Minting p50 / p99", f"{m['p50']:.2f} / {m['p99']:.2f} ms", "p99 ≤ 20 ms", f"/healthz {h['p50']:.2f} / {h['p99']:.2f} ms"),
            ("Minting errors", f"{m['errors']:.0f}", "0", ""),
            ("Minting on Parley's stack with nothing else (`parley-bench bare-mint`), tokens/s", f"{bm['rps']:,.0f}", "≥ 0.5 × /healthz",
             f"an Ed25519 signature and a group-committed insert of two rows, nothing else: {bm['rps'] / bh['rps']:.2f} × its own /healthz "
             f"({bh['rps']:,.0f}/s), {bm['rps'] / h['rps']:.2f} × Parley's; p50 / p99 {bm['p50']:.2f} / {bm['p99']:.2f} ms, "
             f"{bm['errors']:.0f} errors; Parley mints {m['rps'] / bm['rps']:.2f} × this rate"),
            ("History: messages?limit=50 p99 (1M messages)", f"{results['history_messages']['p99']:.2f} ms", "≤ 10 ms",
             f"p50 {results['history_messages']['p50']:.2f} ms, {results['history_messages']['rps']:,.0f}/s, "
             f"{results['history_messages']['errors']:.0f} errors"),
            ("History: conversation list p99 (1M messages)", f"{results['history_list']['p99']:.2f} ms", "≤ 10 ms",
             f"p50 {results['history_list']['p50']:.2f} ms, {results['history_list']['rps']:,.0f}/s, "
             f"{results['history_list']['errors']:.0f} errors"),
        ]
    for concurrency, (arrival, spread) in ((c, a) for c in RELAY_CONCURRENCY for a in relay_arrivals(c)):
        relay = results.get(f"relay_{concurrency}_{arrival}")
        if not relay:
            continue
        label = f"{concurrency} stream(s)" if concurrency == 1 else (
            f"{concurrency:,} streams sent at once" if arrival == "burst" else f"{concurrency:,} streams, arrivals spread over {spread / 1000:g} s")
        d, n, b, s, p = relay["direct"], relay["nginx"], relay["bare"], relay["durable"], relay["parley"]
        added, nginx_added, bare_added, durable_added = added_over(d, p), added_over(d, n), added_over(d, b), added_over(d, s)
        target = {100: "+≤ 2 ms p50, +≤ 10 ms p99", 1000: "≤ 1.5 × nginx's added"}.get(concurrency, "")
        ratio = ratio_note("; {:.1f} × nginx's added p50", added["p50"], nginx_added["p50"])
        rows += [
            (f"Relay, {label}: time to first token p50 / p99",
             first_token_cell(p, added), target,
             f"direct {d['ttft_p50']:.2f} / {d['ttft_p99']:.2f} ms; nginx {n['ttft_p50']:.2f} / {n['ttft_p99']:.2f} ms "
             f"(+{nginx_added['p50']:.2f} / +{nginx_added['p99']:.2f}){ratio}"),
            (f"Relay, {label}: total time p50 / p99", f"{p['total_p50']:.0f} / {p['total_p99']:.0f} ms", "",
             f"direct {d['total_p50']:.0f} / {d['total_p99']:.0f} ms; nginx {n['total_p50']:.0f} / {n['total_p99']:.0f} ms; "
             f"bare relay {b['total_p50']:.0f} / {b['total_p99']:.0f} ms"),
            (f"Relay, {label}: errors", f"{p['errors']:.0f}", "0",
             f"direct {d['errors']:.0f}, nginx {n['errors']:.0f}, bare relay {b['errors']:.0f}"),
            (f"Relay, {label}: CPU per stream", f"{p['cpu_ms_per_stream']:.2f} ms", "",
             f"nginx {n['cpu_ms_per_stream']:.2f} ms ({p['cpu_ms_per_stream'] / n['cpu_ms_per_stream']:.1f} ×); "
             f"bare relay {b['cpu_ms_per_stream']:.2f} ms ({p['cpu_ms_per_stream'] / b['cpu_ms_per_stream']:.1f} ×)"),
            (f"Relay, {label}: the bare relay on Parley's stack, time to first token p50 / p99",
             first_token_cell(b, bare_added), target,
             f"Hummingbird and libcurl passing bytes through (`parley-bench bare-relay`): no token, no storage, no parsing"
             + ratio_note("; {:.1f} × nginx's added p50", bare_added["p50"], nginx_added["p50"])
             + ratio_note("; Parley's added p50 is {:.1f} × this", added["p50"], bare_added["p50"])),
            (f"Relay, {label}: the bare relay storing each request durably first, time to first token p50 / p99",
             first_token_cell(s, durable_added), target,
             f"the same, but each request's body is committed (`synchronous=FULL`, group commit) alongside the provider request "
             f"and the response opens after both (`parley-bench bare-relay --data`), as Parley's opens after the user message is stored; "
             f"{s['errors']:.0f} errors, CPU per stream {s['cpu_ms_per_stream']:.2f} ms"
             + ratio_note("; Parley's added p50 is {:.1f} × this", added["p50"], durable_added["p50"])),
        ]
    for count in HOLD_STREAMS:
        hold = results.get(f"hold_{count}")
        if hold:
            rows.append((f"{count:,} streams held open: errors, RSS per stream", f"{hold['errors']} errors, {hold['per_stream_kib']:.0f} KiB",
                         # The issue sets the RSS target at 5,000 streams; at fewer, the server's fixed growth weighs more per stream.
                         "0 errors, ≤ 100 KiB" if count == 5000 else "0 errors", f"RSS {hold['before_mib']:.0f} → {hold['peak_mib']:.0f} MiB peak; "
                         f"{hold['cpu_cores']:.2f} cores; first token p99 {hold['ttft_p99']:.0f} ms"))
    machine = f"{platform.platform()}, {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    steal = ", ".join(f"{name} {share:.0%}" for name, share in results.get("steal", {}).items())
    steal_note = (f"\nCPU time the hypervisor gave to other guests while each part ran (`steal` in /proc/stat): {steal}.\n"
                  "Every figure of a part slows with it; compare runs with similar shares.") if steal else ""
    table = "| measure | Parley | target | floor / notes |\n|---|---|---|---|\n" + "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    text = f"""# Parley benchmark results

Machine: {machine}. Release build; everything (Parley, provider, nginx, load client) on this one
machine, in one `make bench` run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.
wrk: 2 threads × {CONNECTIONS} connections for {DURATION}. Relay: a 50-chunk reply, 20 ms apart,
from the compiled fast provider; "+" is the time added over the straight-to-provider figure at the
same concurrency and arrival pattern ("sent at once": every stream's request at the same instant, and
since every reply lasts the same time they stay in step; "spread": first requests spread evenly over
one reply's length, so requests arrive steadily). The bare relay (`parley-bench bare-relay`) is
Hummingbird and Parley's libcurl client with nothing between them: the floor for a relay on Parley's
stack, beside nginx's floor for any relay. The durable bare relay (`bare-relay --data`) also commits
each request's body to SQLite (`synchronous=FULL`) before its response opens: the floor for a relay
that stores the message before it answers, as the contract asks. Held streams: {HOLD_SECONDS}-chunk replies, 1 s apart, all opened at once; RSS per
stream is (peak − idle) / N, on a fresh server for each N. Each figure is the median of {RUNS} runs (held streams: one run per N).{steal_note}

{table}
"""
    print(text)
    with open(os.path.join(ROOT, "bench", "results.md"), "w") as output:
        output.write(text)


if __name__ == "__main__":
    sys.exit(main())
