#!/usr/bin/env bash
# The one release build of Parley: `make release`, `make bench` and the Docker image all run it,
# so what is measured is what ships.
#
# Usage: scripts/build-release.sh [PRODUCT...]   (default: parley)
#
# Besides `-c release`, it lays the binary out for a small resident footprint:
# - the Swift runtime and Foundation are linked in (`--static-swift-stdlib`), so their code can be
#   laid out with Parley's own;
# - every function gets its own section (`-function-sections` for Swift, `-ffunction-sections`
#   for C and C++), so lld can drop the unused ones and place the rest one by one;
# - lld places first the functions listed in scripts/parley.order: those a server runs from
#   start to idle, then those a mint, a streamed reply and a history read run. The kernel maps
#   code 64 KiB around each page a process touches, so code that runs together should sit
#   together; unordered, starting the server touched nearly every 64 KiB of the text.
#   Regenerate the list with `make link-order` after large changes (functions it does not name
#   still link, in the default order; lld is told not to warn about names that no longer exist);
# - relative relocations are packed (`-z pack-relative-relocs`): the dynamic loader then reads
#   kilobytes, not the 1.4 MB relocation table it otherwise reads at every start.
set -euo pipefail
cd "$(dirname "$0")/.."

order="$PWD/scripts/parley.order"
flags=(
    -c release
    --static-swift-stdlib
    -Xswiftc -use-ld=lld
    -Xswiftc -Xfrontend -Xswiftc -function-sections
    -Xcc -ffunction-sections
    -Xcxx -ffunction-sections
    -Xlinker -z -Xlinker pack-relative-relocs
    -Xlinker "--symbol-ordering-file=$order"
    -Xlinker --no-warn-symbol-ordering
)
# SwiftPM does not know the order file is an input of the link: when it changes, remove the
# product so that it is linked again.
bin="$("${SWIFT:-swift}" build -c release --show-bin-path)"
order_sum="$(sha256sum "$order" | cut -d' ' -f1)"
for product in "${@:-parley}"; do
    stamp="$bin/$product.order-sha256"
    [ "$(cat "$stamp" 2>/dev/null)" = "$order_sum" ] || rm -f "$bin/$product"
    "${SWIFT:-swift}" build "${flags[@]}" --product "$product"
    echo "$order_sum" >"$stamp"
done
