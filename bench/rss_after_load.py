# Memory after a busy spell (bench/README.md, "Memory after load"): N streams per round against a
# debug or release parley, RSS before, during and after, and after an explicit malloc_trim by gdb.
# Usage: python3 bench/rss_after_load.py PARLEY PARLEY_BENCH STREAMS ROUNDS
import asyncio, json, os, subprocess, sys, time, urllib.request, re, random, string
BIN = sys.argv[1]; BENCH = sys.argv[2]; N = int(sys.argv[3]); ROUNDS = int(sys.argv[4])
def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"): return int(line.split()[1]) // 1024
prov = subprocess.Popen([BENCH, "provider", "--port", "0", "--chunks", "20", "--interval-ms", "100"], stdout=subprocess.PIPE, text=True)
pport = int(prov.stdout.readline().split()[-1])
key = "sk_admin_" + "".join(random.choice(string.ascii_letters) for _ in range(32))
data = f"/tmp/rss/data-{os.getpid()}"
env = dict(os.environ, PARLEY_ADMIN_KEY=key, PARLEY_LOG_LEVEL="warning", PARLEY_SQLITE_SYNCHRONOUS="normal")
srv = subprocess.Popen([BIN, "serve", "--data-dir", data, "--port", "18231", "--allow-private-upstreams"], env=env)
base = "http://127.0.0.1:18231"
for _ in range(100):
    try: urllib.request.urlopen(base + "/readyz"); break
    except Exception: time.sleep(0.1)
def call(method, path, body=None, bearer=key):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer " + bearer, "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
ws = call("POST", "/admin/v1/workspaces", {"name": "R", "settings": {"messages_per_minute": 100000, "max_concurrent_replies": 100000}})["id"]
call("POST", f"/admin/v1/workspaces/{ws}/bots", {"name": "B", "provider": {"kind": "openai", "model": "m", "base_url": f"http://127.0.0.1:{pport}/v1"}})
tokens = [call("POST", "/api/v1/embed/generate-token", {"workspaceId": ws, "userContext": {"id": f"u{i}"}})["embedToken"] for i in range(N // 50 + 1)]
convs = [(t, call("POST", "/v1/conversations", {}, bearer=t)["id"]) for t in tokens for _ in range(50)][:N]
print("idle MiB", rss(srv.pid), flush=True)
async def stream(token, conv):
    r, w = await asyncio.open_connection("127.0.0.1", 18231)
    body = json.dumps({"content": "hello there"}).encode()
    w.write(f"POST /v1/conversations/{conv}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    await w.drain(); got = b""
    while True:
        chunk = await r.read(65536)
        if not chunk: break
        got += chunk
    w.close()
    return b"response.completed" in got
async def main():
    for round in range(ROUNDS):
        ok = await asyncio.gather(*(stream(t, c) for t, c in convs))
        print(f"round {round}: {sum(ok)}/{len(ok)} complete, RSS MiB", rss(srv.pid), flush=True)
asyncio.run(main())
time.sleep(5); print("5 s after load MiB", rss(srv.pid), flush=True)
time.sleep(150); print("155 s after load (events retention over, one trim round) MiB", rss(srv.pid), flush=True)
out = subprocess.run(["gdb", "-p", str(srv.pid), "-batch", "-ex", "call (int)malloc_trim(0)"], capture_output=True, text=True)
print("malloc_trim:", [l for l in out.stdout.splitlines() if l.startswith("$")])
time.sleep(1); print("after malloc_trim MiB", rss(srv.pid), flush=True)
srv.terminate(); prov.terminate(); srv.wait()
