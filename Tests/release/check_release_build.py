#!/usr/bin/env python3
"""Checks the release binary that scripts/build-release.sh builds, as the Docker image ships it:

- the Swift runtime and Foundation are linked in: no libswift*/libFoundation* among its NEEDED
  libraries (the image's runtime stage has none);
- it starts on a fresh data folder and answers /readyz, then stops on SIGTERM.

Usage: check_release_build.py BINARY
Prints "release: N passed, M failed" and exits non-zero on any failure.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def readelf(*args):
    return subprocess.run(["readelf", *args], capture_output=True, text=True, check=True).stdout


def serves(binary):
    """Starts `binary serve` on a free port with a fresh data folder; True once /readyz answers 200."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = tempfile.mkdtemp(prefix="parley-release-")
    env = dict(os.environ, PARLEY_DATA_DIR=data, PARLEY_PORT=str(port), PARLEY_LOG_LEVEL="error")
    process = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                    return response.status == 200
            except OSError:
                time.sleep(0.05)
        return False
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


def main():
    binary = sys.argv[1]
    passed, failed = 0, 0

    def check(ok, what):
        nonlocal passed, failed
        passed, failed = passed + ok, failed + (not ok)
        print(("ok     " if ok else "FAILED ") + what)

    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", readelf("-d", binary))
    swift_libraries = [name for name in needed if name.startswith(("libswift", "libFoundation", "lib_Foundation", "libdispatch", "libBlocksRuntime"))]
    check(not swift_libraries, f"the Swift runtime and Foundation are linked in (shared libraries: {', '.join(needed)})")
    check(serves(binary), "starts on a fresh data folder and answers /readyz")
    print(f"release: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
