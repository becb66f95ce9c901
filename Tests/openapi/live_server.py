"""A real Parley for the scripts in this folder: started on a free loopback port with a fresh
operator key, and returned once /readyz answers."""

import os
import secrets
import socket
import string
import subprocess
import time
import urllib.request


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(binary, command, data_dir):
    """Runs `binary command` over `data_dir`; returns (process, base URL, admin key)."""
    admin = "sk_admin_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PARLEY_ADMIN_KEY=admin, PARLEY_DATA_DIR=data_dir, PARLEY_PORT=str(port), PARLEY_LOG_LEVEL="error")
    env.pop("OPENAI_API_KEY", None)
    server = subprocess.Popen([binary, command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/readyz", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    return server, base, admin
