#!/usr/bin/env python3
"""Writes scripts/parley.order: the functions a release Parley runs, in the order the release build
should lay them out (scripts/build-release.sh says why).

It runs the release binary under valgrind's callgrind twice, each time on a fresh data folder:
- start, /readyz, 3 s idle, SIGTERM: the functions of a server that has just started;
- the same, then what a serving server runs: workspace, bot and key created, tokens minted,
  replies streamed from `parley-bench provider` (through the bench's stream client), history
  and conversation list read, /healthz, /widget.js and the iframe page.
The order file lists the first run's functions, then the second run's others, so the code of an
idle server is packed tightest. callgrind counts every function executed (sampling would miss
the ones run once), which is what matters here: a function run once at start still maps its
64 KiB of text.

Runs differ a little (threads' timing decides some paths), so compare the new order with the old
(`make bench`, footprint) before committing it. Measure binaries in the same page-cache state: a
file just written measures about 3 MiB more than the same file read from disk (bench/README.md).

Usage: make link-order  (builds release parley and parley-bench first)
"""
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDER_FILE = os.path.join(ROOT, "scripts", "parley.order")


def executed_functions(profile, binary):
    """Names of the functions of `binary` that a callgrind profile saw run, in the profile's order.

    callgrind's format names each object (`ob=`, `cob=`) and function (`fn=`, `cfn=`) in full the
    first time and by `(id)` afterwards; a call's callee lives in `cob`, or in `ob` when absent.
    """
    objects, functions = {}, {}
    seen, order = set(), []

    def name(table, spec):
        match = re.match(r"\((\d+)\)(?: (.*))?", spec)
        if not match:
            return spec
        key, full = match.groups()
        if full is not None:
            table[key] = full
        return table.get(key)

    def note(function, obj):
        if obj == binary and function and not function.startswith("0x") and function not in seen:
            seen.add(function)
            order.append(function)

    current_object = callee_object = None
    with open(profile, errors="replace") as lines:
        for line in lines:
            if line.startswith("ob="):
                current_object, callee_object = name(objects, line[3:].strip()), None
            elif line.startswith("cob="):
                callee_object = name(objects, line[4:].strip())
            elif line.startswith("fn="):
                note(name(functions, line[3:].strip()), current_object)
                callee_object = None
            elif line.startswith("cfn="):
                note(name(functions, line[4:].strip()), callee_object or current_object)
                callee_object = None
    return order


def profile(binary, serve):
    """Runs `binary serve` under callgrind through one scenario; returns the profile's path."""
    folder = bench.scratch("profile-")
    out = os.path.join(folder, "callgrind.out")
    callgrind = ["valgrind", "--tool=callgrind", "--demangle=no", "--dump-instr=no", f"--callgrind-out-file={out}"]
    saved, bench.BINARY = bench.BINARY, binary
    try:
        with open(out + ".log", "w") as log:
            server = bench.Server(os.path.join(folder, "data"), launcher=callgrind, stderr=log, start_timeout=300,
                                  PARLEY_ALLOW_PRIVATE_UPSTREAMS="1")
    except RuntimeError as error:
        raise RuntimeError(f"parley did not start under valgrind; see {out}.log") from error
    finally:
        bench.BINARY = saved
    time.sleep(3)
    if serve:
        exercise(server)
    server.process.send_signal(signal.SIGTERM)
    if server.process.wait(timeout=300) != 0:
        raise RuntimeError(f"parley exited with {server.process.returncode} under valgrind; see {out}.log")
    return out


def exercise(server):
    """What a serving server runs: minting, streamed replies, history, the public files."""
    provider = bench.Provider(chunks=20, interval_ms=5)
    try:
        tenant = bench.ChatTenant(server, 6)
        tenant.add_bot("fast", provider.port)
        for user in range(5):
            server.call("POST", "/api/v1/embed/generate-token",
                        {"workspaceId": tenant.workspace, "userContext": {"id": f"user-{user}"}}, key=tenant.key)
        result = bench.streams(server.port, tenant.requests("fast", 6), 2, *bench.PARLEY_MARKERS)
        if result["errors"]:
            raise RuntimeError(f"streams failed under valgrind: {result}")
        token, conversation = tenant.tokens["fast"], tenant.conversations["fast"][0]
        for path in [f"/v1/conversations/{conversation}/messages?limit=50", "/v1/conversations?limit=20"]:
            request = urllib.request.Request(server.base + path, headers={"Authorization": "Bearer " + token})
            urllib.request.urlopen(request, timeout=60).read()
        for path in ["/healthz", "/widget.js", f"/embedded-chat?token={token}"]:
            urllib.request.urlopen(server.base + path, timeout=60).read()
    finally:
        provider.stop()


def main():
    built = bench.BINARY
    # valgrind 3.19 cannot read the DWARF 5 that clang writes; the symbol table is all it needs.
    with bench.scratch_root("parley-order-"):
        binary = os.path.join(bench.scratch("binary-"), "parley")
        subprocess.run(["objcopy", "--strip-debug", built, binary], check=True)
        idle = executed_functions(profile(binary, serve=False), binary)
        serving = executed_functions(profile(binary, serve=True), binary)
    known = set(idle)
    order = idle + [function for function in serving if function not in known]
    with open(ORDER_FILE, "w") as file:
        file.write("\n".join(order) + "\n")
    print(f"{ORDER_FILE}: {len(idle)} functions of an idle server, then {len(order) - len(idle)} more of a serving one")


if __name__ == "__main__":
    main()
