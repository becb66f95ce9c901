#!/usr/bin/env python3
"""Runs schemathesis against a real Parley, driven by Parley's own /openapi.json.

Two passes: every operation with the operator's admin key, then the chat API (/v1/…) with an
embed token of a real workspace, so its successful answers are checked too. The checks are the
ones the contract cares about: no 5xx, and every status, content type and body as documented.

Usage: run_schemathesis.py PATH/TO/parley
Prints "schemathesis: N passed, M failed" and exits non-zero when a pass fails.
"""

import json
import shutil
import subprocess
import sys
import tempfile
import urllib.request

import live_server

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"


def call(base, method, path, key, body=None):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Authorization", "Bearer " + key)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/parley"
    data = tempfile.mkdtemp(prefix="parley-st-")
    server, base, admin = live_server.start(binary, "serve", data)
    results = []
    try:
        workspace = call(base, "POST", "/admin/v1/workspaces", admin, {"name": "Schemathesis"})["id"]
        # A provider nobody listens on: replies fail fast with response.error, which is fine here.
        call(base, "POST", f"/admin/v1/workspaces/{workspace}/bots", admin,
             {"name": "B", "provider": {"kind": "openai", "model": "m", "base_url": "https://provider.invalid/v1"}})
        token = call(base, "POST", "/api/v1/embed/generate-token", admin,
                     {"workspaceId": workspace, "userContext": {"id": "st-user"}})["embedToken"]
        passes = [
            ("admin key, every operation", admin, []),
            ("embed token, chat API", token, ["--include-path-regex", "^/v1/(session|conversations)"]),
        ]
        for name, key, extra in passes:
            # The CLI's entry point, called through this interpreter so no PATH lookup is needed.
            command = [sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()", "run", base + "/openapi.json", "-H", f"Authorization: Bearer {key}", "-c", CHECKS, "-n", "15",
                       "--phases", "examples,coverage,fuzzing", "--seed", "20261122"] + extra
            print(f"--- schemathesis: {name}", flush=True)
            outcome = subprocess.run(command, timeout=900)
            results.append(outcome.returncode == 0)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    passed = sum(results)
    print(f"schemathesis: {passed} passed, {len(results) - passed} failed")
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
