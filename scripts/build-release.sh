#!/usr/bin/env bash
# The one release build of Parley: `make release`, `make bench` and the Docker image all run it,
# so what is measured is what ships.
#
# Usage: scripts/build-release.sh [PRODUCT...]   (default: parley)
#
# A plain `-c release` build with the Swift runtime and Foundation linked in
# (`--static-swift-stdlib`), so the binary runs on a slim Debian with libcurl and libsqlite3 only.
set -euo pipefail
cd "$(dirname "$0")/.."

for product in "${@:-parley}"; do
    "${SWIFT:-swift}" build -c release --static-swift-stdlib --product "$product"
done
