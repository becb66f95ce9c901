#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine with only the Swift toolchain lacks to build and test
# Parley. Safe to run again: it installs only what is missing.
set -euo pipefail

packages=(libsqlite3-dev libcurl4-openssl-dev libssl-dev zlib1g-dev pkg-config binutils python3 python3-pip curl chromium chromium-driver)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python packages for the interoperability tests (a standard JWT library verifying Parley's
# tokens), the browser tests (Selenium driving Debian's chromium-driver, pytest) and the API
# fuzzing (schemathesis) and the generated-client test (openapi-python-client).
if ! python3 -c "import jwt, cryptography, selenium, pytest, schemathesis, openapi_python_client" 2>/dev/null; then
    for requirements in Tests/interop/requirements.txt Tests/browser/requirements.txt Tests/openapi/requirements.txt; do
        python3 -m pip install --quiet --disable-pip-version-check -r "$requirements" \
            || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages -r "$requirements"
    done
fi
