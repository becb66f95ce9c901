#!/usr/bin/env python3
"""A customer's backend, written with a standard JWT library (PyJWT), checks Parley's tokens.

Starts the real `parley` binary on a free loopback port over a fresh data directory, walks the
README's curl walk-through with urllib, and verifies the minted embed token using nothing but
`/.well-known/jwks.json`. Prints `N passed, N failed` and exits non-zero on any failure.

Usage: test_jwks_interop.py PATH/TO/parley
"""

import json
import os
import secrets
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import jwt

ALPHABET = string.ascii_letters + string.digits


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Parley:
    def __init__(self, binary: str):
        self.admin_key = "sk_admin_" + "".join(secrets.choice(ALPHABET) for _ in range(32))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = tempfile.mkdtemp(prefix="parley-interop-")
        env = dict(os.environ, PARLEY_ADMIN_KEY=self.admin_key, PARLEY_DATA_DIR=self.data, PARLEY_PORT=str(self.port))
        self.process = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.call("GET", "/readyz", None)[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("parley did not become ready")

    def call(self, method, path, body, key=None):
        request = urllib.request.Request(self.base + path, method=method)
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, data=data, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def stop(self):
        self.process.terminate()
        status = self.process.wait(timeout=20)
        shutil.rmtree(self.data, ignore_errors=True)
        return status


def main() -> int:
    binary = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/parley"
    parley = Parley(binary)
    results = []

    def check(name, condition):
        results.append(bool(condition))
        print(("ok     " if condition else "FAILED ") + name)

    try:
        status, workspace = parley.call("POST", "/admin/v1/workspaces", {"id": "W123", "name": "Acme"}, parley.admin_key)
        check("create workspace", status == 201)
        status, bot = parley.call(
            "POST", "/admin/v1/workspaces/W123/bots",
            {"name": "Helper", "provider": {"kind": "openai", "model": "gpt-4o-mini", "api_key": "sk-test-0123456789abcdef"}},
            parley.admin_key)
        check("create bot", status == 201)
        status, key = parley.call("POST", "/admin/v1/workspaces/W123/api-keys", {"name": "backend", "scope": "tokens"}, parley.admin_key)
        check("create api key", status == 201)
        status, minted = parley.call(
            "POST", "/api/v1/embed/generate-token",
            {"workspaceId": "W123", "userContext": {"id": "u-42", "email": "jane@example.com", "name": "Jane"}},
            key["key"])
        check("mint token", status == 200)
        token = minted["embedToken"]

        status, jwks = parley.call("GET", "/.well-known/jwks.json", None)
        check("fetch jwks", status == 200 and len(jwks["keys"]) == 1)
        key_set = jwt.PyJWKSet.from_dict(jwks)
        kid = jwt.get_unverified_header(token)["kid"]
        signing_key = next(k for k in key_set.keys if k.key_id == kid)
        claims = jwt.decode(token, signing_key.key, algorithms=["EdDSA"], audience="parley-embed", issuer=parley.base)
        check("PyJWT verifies the token with the JWKS alone", claims["sub"] == "u-42" and claims["wid"] == "W123")
        check("claims carry the bot, email and name",
              claims["bid"] == bot["id"] and claims["email"] == "jane@example.com" and claims["name"] == "Jane")
        check("lifetime is the one-hour default", claims["exp"] - claims["iat"] == 3600)

        header, payload, signature = token.split(".")
        tampered_payload = jwt.utils.base64url_encode(json.dumps(dict(claims, sub="mallory")).encode()).decode()
        try:
            jwt.decode(f"{header}.{tampered_payload}.{signature}", signing_key.key, algorithms=["EdDSA"], audience="parley-embed")
            check("PyJWT rejects a tampered payload", False)
        except jwt.InvalidSignatureError:
            check("PyJWT rejects a tampered payload", True)

        status, session = parley.call("GET", "/v1/session", None, token)
        check("the token opens /v1/session", status == 200 and session["user"]["id"] == "u-42")
    finally:
        code = parley.stop()
        check("SIGTERM ends the server with status 0", code == 0)

    passed = sum(results)
    failed = len(results) - passed
    print(f"interop: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
