"""Fixtures for the browser tests: a real Parley, a scripted provider, a customer's host site on
another origin, and headless Chromium driven by Selenium.

Every server listens on 127.0.0.1 only. The host site is a different origin from Parley (another
port), serves its pages under a strict CSP without 'unsafe-inline', and mints embed tokens from its
own backend endpoint, as a real customer would.
"""

import json
import os
import pathlib
import secrets
import shutil
import socket
import string
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("PARLEY_BINARY", str(ROOT / ".build/debug/parley"))
SHOTS = pathlib.Path(os.environ.get("PARLEY_SCREENSHOTS", ROOT / "test-artifacts/screenshots"))

XSS_REPLY = (
    "Safe? <script>window.__pwned = 1</script> and <img src=x onerror=\"window.__pwned = 2\">\n\n"
    "[click me](javascript:window.__pwned=3) and [ok link](https://example.com/docs)\n\n"
    "![tracker](http://{host}/tracker.png)\n\n<a href=\"javascript:alert(1)\">raw</a>"
)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def chunk(content=None, finish=None):
    delta = {"content": content} if content is not None else {}
    return "data: " + json.dumps({"model": "browser-test", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"


class Provider(BaseHTTPRequestHandler):
    """An OpenAI-compatible provider whose reply depends on the user's last message."""
    host_origin = ""

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        last = [m for m in body.get("messages", []) if m["role"] == "user"][-1]["content"]
        if last == "xss":
            words = [XSS_REPLY.format(host=self.host_origin.replace("http://", ""))]
            delay = 0
        elif last == "markdown":
            words = ["# Title\n\nSome **bold**, *em*, `code`.\n\n- one\n- two\n\n```js\nconst x = 1;\n```\n\n> quoted\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"]
            delay = 0
        else:
            words = ["This ", "reply ", "arrives ", "one ", "word ", "at ", "a ", "time ", "so ", "you ", "can ", "watch ", "it."]
            delay = 0.15
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for word in words:
            self.wfile.write(chunk(word).encode())
            self.wfile.flush()
            time.sleep(delay)
        self.wfile.write((chunk(None, "stop") + "data: [DONE]\n\n").encode())
        self.wfile.flush()


class Parley:
    def __init__(self):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.admin_key = "sk_admin_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        self.data = tempfile.mkdtemp(prefix="parley-browser-")
        env = dict(os.environ, PARLEY_ADMIN_KEY=self.admin_key, PARLEY_DATA_DIR=self.data, PARLEY_PORT=str(self.port),
                   PARLEY_ALLOW_PRIVATE_UPSTREAMS="true", PARLEY_LOG_LEVEL="warning")
        self.process = subprocess.Popen([BINARY, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                urllib.request.urlopen(self.base + "/readyz", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("parley did not start")

    def call(self, method, path, body=None, key=None):
        request = urllib.request.Request(self.base + path, method=method, data=json.dumps(body).encode() if body is not None else None)
        request.add_header("Authorization", "Bearer " + (key or self.admin_key))
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return json.loads(error.read() or b"null")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=20)
        shutil.rmtree(self.data, ignore_errors=True)


class HostSite(BaseHTTPRequestHandler):
    """The customer's site: pages under a strict CSP, and a backend endpoint that mints tokens."""
    parley = None
    key = None
    workspace = None
    requests = []
    token_calls = 0
    ttl = 3600

    def log_message(self, *args):
        pass

    def csp(self):
        p = self.parley.base
        return (f"default-src 'none'; script-src 'self' {p}; connect-src 'self' {p}; frame-src {p}; style-src 'self'; img-src 'self'; "
                "base-uri 'none'; object-src 'none'")

    def do_GET(self):
        HostSite.requests.append(self.path)
        if self.path == "/probe.js":
            self.send_response(200)
            self.send_header("Content-Type", "text/javascript")
            self.end_headers()
            self.wfile.write(PROBE.encode())
            return
        page = PAGES.get(self.path.split("?")[0])
        if page is None:
            self.send_response(404)
            self.end_headers()
            return
        html = page.format(parley=self.parley.base, token=getattr(HostSite, "iframe_token", ""))
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Security-Policy", self.csp())
        self.end_headers()
        self.wfile.write(html.encode())

    def do_POST(self):
        if self.path.startswith("/token"):
            HostSite.token_calls += 1
            user = "browser-user"
            minted = self.parley.call("POST", "/api/v1/embed/generate-token",
                                      {"workspaceId": self.workspace, "userContext": {"id": user, "name": "Bea"}, "ttlSeconds": HostSite.ttl},
                                      key=self.key)
            body = json.dumps({"token": minted["embedToken"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(404)
        self.end_headers()


PAGES = {
    "/bubble": '<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>Host</title><script src="{parley}/widget.js" data-token-url="/token" async></script></head>'
               '<body><h1>Customer app</h1><p>Host content.</p></body></html>',
    "/bubble-ar": '<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>Host</title><script src="{parley}/widget.js" data-token-url="/token" data-locale="ar" async></script>'
                  '</head><body><h1>Customer app</h1></body></html>',
    "/bubble-dark": '<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>Host</title><script src="{parley}/widget.js" data-token-url="/token" data-theme="dark" '
                    'data-position="bottom-left" data-primary-color="#8250df" data-open-on-load="true" async></script></head><body><h1>Dark</h1></body></html>',
    "/inline": '<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>Host</title><script src="{parley}/widget.js" data-token-url="/token" data-mode="inline" '
               'data-mount="#help" async></script></head><body><h1>Help centre</h1><div id="help"></div></body></html>',
    "/iframe": '<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>Host</title><script src="/probe.js"></script></head>'
               '<body><iframe id="chat" src="{parley}/embedded-chat?token={token}"></iframe></body></html>',
}


# Records every message the host page receives, for the postMessage checks.
PROBE = """
window.__messages = [];
window.addEventListener("message", function (event) { window.__messages.push({ origin: event.origin, data: event.data }); });
"""


@pytest.fixture(scope="session")
def stack():
    parley = Parley()
    provider_port = free_port()
    host_port = free_port()
    Provider.host_origin = f"http://127.0.0.1:{host_port}"
    provider = ThreadingHTTPServer(("127.0.0.1", provider_port), Provider)
    threading.Thread(target=provider.serve_forever, daemon=True).start()
    workspace = parley.call("POST", "/admin/v1/workspaces", {"name": "Browser", "allowed_origins": [f"http://127.0.0.1:{host_port}"]})["id"]
    parley.call("POST", f"/admin/v1/workspaces/{workspace}/bots", {
        "name": "Helper", "greeting": "Hello! How can I help?",
        "provider": {"kind": "openai", "model": "browser-test", "base_url": f"http://127.0.0.1:{provider_port}/v1"}})
    key = parley.call("POST", f"/admin/v1/workspaces/{workspace}/api-keys", {"name": "host", "scope": "tokens"})["key"]
    HostSite.parley, HostSite.key, HostSite.workspace = parley, key, workspace
    host = ThreadingHTTPServer(("127.0.0.1", host_port), HostSite)
    threading.Thread(target=host.serve_forever, daemon=True).start()
    yield {"parley": parley, "host": f"http://127.0.0.1:{host_port}", "workspace": workspace, "key": key}
    host.shutdown()
    provider.shutdown()
    parley.stop()


def make_driver(width=1280, height=860, mobile=False):
    options = Options()
    if mobile:
        # Headless windows are at least 500 px wide; a phone is emulated instead.
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2}})
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


@pytest.fixture
def browser():
    driver = make_driver()
    yield driver
    driver.quit()


@pytest.fixture
def phone():
    driver = make_driver(375, 812, mobile=True)
    yield driver
    driver.quit()


def screenshot(driver, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def pytest_sessionfinish(session, exitstatus):
    print(f"\nscreenshots: {SHOTS}")
