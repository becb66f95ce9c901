#!/usr/bin/env python3
"""Checks that docker/Dockerfile's runtime stage can run the parley binary, without Docker.

No Docker engine runs on the build machines, so this checks the image's recipe instead: every
shared library the binary asks for directly (ELF NEEDED) must come from a package the runtime
stage installs, from a package of priority "required" (present in every Debian base image, slim
included), or from the Swift runtime if the Dockerfile copies it in (the release build links the
runtime into the binary, so the image does not). It also checks that the Dockerfile
builds with the same script as `make release` (scripts/build-release.sh), and copies in what that
script reads.

Give it the binary that script built (`make release`), or the debug build (`make test`): the two
link the same system libraries, and a debug build's Swift runtime libraries pass only when the
release script links the runtime in (`--static-swift-stdlib`), as the image's build then does.

Usage: check_runtime_libraries.py BINARY [DOCKERFILE] [MAKEFILE]
Prints "docker: N passed, M failed" and exits non-zero on any failure.
"""

import os
import re
import subprocess
import sys


def needed_libraries(binary):
    dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic)


def resolved_paths(binary):
    paths = {}
    for line in subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout.splitlines():
        match = re.match(r"\s*(\S+) => (\S+)", line)
        if match:
            paths[match.group(1)] = match.group(2)
    return paths


def package_of(path):
    real = os.path.realpath(path)
    for candidate in {path, real, "/usr" + path if path.startswith("/lib") else path, "/usr" + real if real.startswith("/lib") else real}:
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":")[0].strip()
    return None


# In every Debian image, debian:bookworm-slim included: libc6 is essential, and apt and dpkg (also
# in every image) depend on the other three.
BASE_IMAGE = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}


def runtime_stage(dockerfile):
    text = open(dockerfile).read()
    stage = text[text.rindex("\nFROM "):]
    packages = set()
    for install in re.findall(r"apt-get install[^&]*", stage, flags=re.S):
        packages.update(word for word in re.split(r"[\s\\]+", install) if re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", word))
    packages -= {"apt-get", "install"}
    return stage, packages


def main():
    binary = sys.argv[1]
    dockerfile = sys.argv[2] if len(sys.argv) > 2 else "docker/Dockerfile"
    makefile = sys.argv[3] if len(sys.argv) > 3 else "Makefile"
    stage, installed = runtime_stage(dockerfile)
    copies_swift_runtime = "/usr/lib/swift/linux/" in stage
    script = "scripts/build-release.sh"
    release_links_runtime = re.search(r"^[^#\n]*build -c release --static-swift-stdlib", open(script).read(), flags=re.M) is not None
    paths = resolved_paths(binary)
    passed, failed = 0, 0

    def check(ok, what):
        nonlocal passed, failed
        passed, failed = passed + ok, failed + (not ok)
        print(("ok     " if ok else "FAILED ") + what)

    for library in needed_libraries(binary):
        path = paths.get(library)
        if library.startswith("ld-linux"):
            continue  # the dynamic loader itself, part of libc6
        if path is None:
            check(False, f"{library}: not found by ldd on this machine")
        elif "/swift/" in path:
            check(copies_swift_runtime or release_links_runtime,
                  f"{library}: Swift runtime, " + ("copied from the build image" if copies_swift_runtime else
                  f"linked into the image's binary by {script} (--static-swift-stdlib)" if release_links_runtime else
                  "neither copied into the image nor linked in by the release script"))
        else:
            package = package_of(path)
            base = package in BASE_IMAGE
            check(package is not None and (package in installed or base),
                  f"{library}: {path} from {package or '?'} ({'base image' if base else 'installed in runtime stage' if package in installed else 'MISSING from the runtime stage'})")

    recipe = re.search(r"^release:.*\n((?:\t[^\n]*\n)+)", open(makefile).read(), flags=re.M)
    docker = open(dockerfile).read()
    check(recipe is not None and script in recipe.group(1) and re.search(r"^RUN " + re.escape(script), docker, flags=re.M) is not None,
          f"the Dockerfile builds with the Makefile's release script ({script})")
    copied = re.search(r"^COPY (scripts/\S+ )+scripts/$", docker, flags=re.M)
    check(copied is not None and script in copied.group(0).split(), "the Dockerfile copies the release script into the build stage")
    check("USER parley" in stage and "VOLUME /data" in stage and "HEALTHCHECK" in stage and "/readyz" in stage,
          "runtime stage: non-root user, /data volume, health check on /readyz")
    print(f"docker: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
