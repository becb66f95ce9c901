#!/usr/bin/env python3
"""Checks the release binary that scripts/build-release.sh lays out: that the layout options took
effect, and that the binary serves.

- the Swift runtime and Foundation are linked in: no libswift*/libFoundation* among its NEEDED
  libraries (the Docker image ships none);
- it was linked by lld, with packed relative relocations (a .relr.dyn section);
- the functions of scripts/parley.order come first in .text, in the file's order: the first one
  found opens .text, and consecutive ones mostly ascend (an unordered build: about half do);
- no async function of Parley's own modules has a frame over 8 KiB: a task keeps the memory of the
  deepest frames it ran until it ends (Swift's task allocator reuses its slabs, it does not free
  them), so a large frame anywhere on a reply's path is paid by every open stream. A struct of
  half a kilobyte held across awaits, copied a few times over, is enough to make one; the hub's
  were 33 and 11 KiB before `ReplyContext` and `ReplyPair` became classes;
- it starts on a fresh data folder and answers /readyz, then stops on SIGTERM.

It also prints how many of the order file's functions the binary still has; when code has moved
on far, `make link-order` brings the list up to date.

Usage: check_release_build.py BINARY [ORDER_FILE]
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


def function_addresses(binary):
    """The address of each function symbol of `binary` (the first, for names defined twice)."""
    addresses = {}
    listing = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            addresses.setdefault(parts[2], int(parts[0], 16))
    return addresses


def async_frame_sizes(binary, modules):
    """The frame size of each async function of `modules` in `binary`, largest first.

    An async function pointer (mangled name ending in `Tu`) is two 32-bit words: the function's
    relative address, then the size of the frame its callers allocate for it."""
    sections = []
    for line in readelf("-SW", binary).splitlines():
        match = re.search(r"\]\s+\S+\s+\S+\s+([0-9a-f]{16})\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if match:
            sections.append(tuple(int(field, 16) for field in match.groups()))
    prefixes = tuple(f"$s{len(module)}{module}" for module in modules)
    listing = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    sizes = []
    with open(binary, "rb") as image:
        for line in listing.splitlines():
            parts = line.split()
            if len(parts) != 3 or not parts[2].endswith("Tu") or not parts[2].startswith(prefixes):
                continue
            address = int(parts[0], 16)
            for start, offset, size in sections:
                if start <= address < start + size:
                    image.seek(offset + address - start)
                    sizes.append((int.from_bytes(image.read(8)[4:], "little"), parts[2]))
                    break
    return sorted(sizes, reverse=True)


def text_start(binary):
    match = re.search(r"\]\s+\.text\s+PROGBITS\s+([0-9a-f]+)", readelf("-SW", binary))
    return int(match.group(1), 16) if match else None


def demangle(name):
    demangled = subprocess.run(["swift", "demangle", "--simplified"], input=name, capture_output=True, text=True).stdout.strip()
    return demangled.removeprefix("async function pointer to ") or name


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
    order_file = sys.argv[2] if len(sys.argv) > 2 else "scripts/parley.order"
    passed, failed = 0, 0

    def check(ok, what):
        nonlocal passed, failed
        passed, failed = passed + ok, failed + (not ok)
        print(("ok     " if ok else "FAILED ") + what)

    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", readelf("-d", binary))
    swift_libraries = [name for name in needed if name.startswith(("libswift", "libFoundation", "lib_Foundation", "libdispatch", "libBlocksRuntime"))]
    check(not swift_libraries, f"the Swift runtime and Foundation are linked in (shared libraries: {', '.join(needed)})")
    check("Linker: LLD" in readelf("-p", ".comment", binary), "linked by lld")
    check(".relr.dyn" in readelf("-SW", binary), "relative relocations packed (.relr.dyn)")

    order = [line.strip() for line in open(order_file) if line.strip()]
    addresses = function_addresses(binary)
    placed = [addresses[name] for name in order if name in addresses]
    print(f"       {len(placed)} of the {len(order)} functions in {order_file} are in this binary")
    start = text_start(binary)
    check(bool(placed) and start is not None and placed[0] - start < 4096, "the order file's first function found opens .text")
    ascending = sum(1 for earlier, later in zip(placed, placed[1:]) if later > earlier)
    share = ascending / max(1, len(placed) - 1)
    check(len(placed) > 1 and share >= 0.8, f"the order file's functions follow its order ({share:.0%} of consecutive pairs ascend)")

    frames = async_frame_sizes(binary, ["Parley", "CurlStream"])
    largest = ", ".join(f"{size:,} B ({demangle(name)})" for size, name in frames[:3])
    check(len(frames) > 100 and frames[0][0] <= 8192, f"no async frame of Parley's over 8 KiB ({len(frames)} functions; largest {largest})")

    check(serves(binary), "starts on a fresh data folder and answers /readyz")
    print(f"release: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
