#!/usr/bin/env python3
"""Opens many reply streams against `parley demo` at once and reports what the server held.

Each stream is its own demo visitor (token from /demo/token) with its own conversation, so the
per-conversation and per-user limits do not interfere. All replies start together; the script
reads every stream to its terminal event, and samples the server's RSS from /proc meanwhile.

Usage: stream_load.py --pid PID [--base http://127.0.0.1:8080] [--streams 1000]
Plain HTTP/1.1 over asyncio sockets; loopback only.
"""

import argparse
import asyncio
import json
import statistics
import time
from urllib.parse import urlparse


async def request(host, port, method, path, token=None, body=None):
    """One request on a fresh connection. Returns (status, headers, reader, writer)."""
    reader, writer = await asyncio.open_connection(host, port)
    data = json.dumps(body).encode() if body is not None else b""
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close", f"Content-Length: {len(data)}"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    if body is not None:
        head.append("Content-Type: application/json")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, reader, writer


async def body_chunks(reader, headers):
    """Yields the body's bytes as they arrive, for Content-Length and chunked bodies."""
    if headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            if size == 0:
                return
            yield await reader.readexactly(size)
            await reader.readexactly(2)
    else:
        yield await reader.readexactly(int(headers.get("content-length", "0")))


async def json_call(host, port, method, path, token=None, body=None):
    status, headers, reader, writer = await request(host, port, method, path, token, body)
    data = b"".join([chunk async for chunk in body_chunks(reader, headers)])
    writer.close()
    return status, json.loads(data or b"null")


async def one_stream(host, port, token, conversation, results):
    started = time.monotonic()
    first = None
    outcome = "no terminal event"
    try:
        status, headers, reader, writer = await request(
            host, port, "POST", f"/v1/conversations/{conversation}/messages", token, {"content": "hello"})
        if status != 200:
            outcome = f"http {status}"
        else:
            buffer = b""
            async for chunk in body_chunks(reader, headers):
                buffer += chunk
                if first is None and b"event: response.delta" in buffer:
                    first = time.monotonic() - started
                if b"event: response.completed" in buffer:
                    outcome = "ok"
                elif b"event: response.error" in buffer:
                    outcome = "response.error"
                if outcome != "no terminal event":
                    break
        writer.close()
    except Exception as error:  # noqa: BLE001 - every failure is counted, by kind
        outcome = type(error).__name__
    results.append((outcome, first, time.monotonic() - started))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8080")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--pid", type=int, required=True)
    args = parser.parse_args()
    url = urlparse(args.base)
    host, port = url.hostname, url.port or 80

    setup = asyncio.Semaphore(32)

    async def prepare(index):
        async with setup:
            _, minted = await json_call(host, port, "POST", f"/demo/token?visitor=load-{index}")
            _, conversation = await json_call(host, port, "POST", "/v1/conversations", minted["token"], {})
            return minted["token"], conversation["id"]

    sessions = await asyncio.gather(*(prepare(i) for i in range(args.streams)))
    idle = rss_kib(args.pid)
    peak = idle
    results = []
    tasks = [asyncio.create_task(one_stream(host, port, token, conversation, results)) for token, conversation in sessions]
    began = time.monotonic()
    while not all(task.done() for task in tasks):
        peak = max(peak, rss_kib(args.pid))
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - began

    ok = [r for r in results if r[0] == "ok"]
    errors = {}
    for outcome, _, _ in results:
        if outcome != "ok":
            errors[outcome] = errors.get(outcome, 0) + 1
    first = sorted(r[1] for r in ok if r[1] is not None)
    total = sorted(r[2] for r in ok)
    print(f"streams            {args.streams}")
    print(f"completed          {len(ok)}")
    print(f"errors             {sum(errors.values())} {errors if errors else ''}")
    if first:
        print(f"first delta p50    {statistics.median(first) * 1000:.0f} ms   p99 {first[int(len(first) * 0.99) - 1] * 1000:.0f} ms")
        print(f"whole reply p50    {statistics.median(total) * 1000:.0f} ms   wall {elapsed:.1f} s")
    print(f"RSS idle / peak    {idle / 1024:.1f} MiB / {peak / 1024:.1f} MiB")
    print(f"RSS per stream     {(peak - idle) / max(1, args.streams):.0f} KiB")


if __name__ == "__main__":
    asyncio.run(main())
