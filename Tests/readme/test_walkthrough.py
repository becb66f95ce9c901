#!/usr/bin/env python3
"""Runs the README's curl walk-through as written, so the README and the server never drift.

The block is the first ```sh fence after the "walk-through" comment in README.md. It runs with
bash -e -o pipefail from the repository's root (it starts .build/debug/parley itself), on a free
port, with TMPDIR pointed at a scratch folder so its `mktemp -d` data folder is cleaned up. The
only thing added around it is an EXIT trap that stops the server if a step fails.

Usage: test_walkthrough.py [README.md]
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def walkthrough_block(readme):
    text = open(readme, encoding="utf-8").read()
    marker = text.index("<!-- walk-through:")
    found = re.compile(r"^```sh\n(.*?)^```", re.S | re.M).search(text, marker)
    if not found:
        sys.exit("no ```sh block after the walk-through marker in " + readme)
    return found.group(1)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sse_events(text):
    """(event, data) pairs of an SSE stream, per the WHATWG rules Parley's streams follow."""
    events, name, data = [], None, []
    for line in text.split("\n"):
        if line == "":
            if data:
                events.append((name or "message", "\n".join(data)))
            name, data = None, []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return events


def main():
    readme = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "README.md")
    block = walkthrough_block(readme)
    scratch = tempfile.mkdtemp(prefix="parley-readme-")
    env = dict(os.environ, PARLEY_PORT=str(free_port()), TMPDIR=scratch)
    env.pop("PARLEY_DATA_DIR", None)
    env.pop("PARLEY_ADMIN_KEY", None)
    script = "trap 'kill $PARLEY_PID 2>/dev/null || true' EXIT\n" + block
    try:
        run = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
        out = run.stdout
        failures = []
        if run.returncode != 0:
            failures.append(f"the block exited {run.returncode}; stderr:\n{run.stderr}")
        if out.split("\n")[0].replace(" ", "") != '{"status":"ready"}':
            failures.append("the block did not start with /readyz answering ready")
        if '"id":"W123"' not in out.replace(" ", ""):
            failures.append("the workspace W123 was not created")
        events = sse_events(out)
        names = [name for name, _ in events]
        for wanted in ("user_message", "response.started", "response.delta", "response.completed"):
            if wanted not in names:
                failures.append(f"no {wanted} event in the stream")
        deltas = "".join(json.loads(data).get("delta", "") for name, data in events if name == "response.delta")
        completed = [json.loads(data) for name, data in events if name == "response.completed"]
        if completed:
            stored = completed[0].get("message", completed[0]).get("content")
            if not deltas or stored != deltas:
                failures.append(f"completed text {stored!r} is not the streamed text {deltas!r}")
        if not re.search(r'"revoked":\s*1\b', out):
            failures.append("the revoke step did not revoke one token")
        if "session after revoking: 401" not in out:
            failures.append("the revoked token was not refused")
        if failures:
            print("README walk-through FAILED:\n- " + "\n- ".join(failures) + "\n--- stdout:\n" + out, file=sys.stderr)
            logs = [os.path.join(d, "server.log") for d in (os.path.join(scratch, n) for n in os.listdir(scratch))]
            for log in filter(os.path.exists, logs):
                print("--- " + log + ":\n" + open(log).read()[-4000:], file=sys.stderr)
            sys.exit(1)
        print(f"README walk-through: passed ({len(events)} events, reply of {len(deltas)} characters)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
