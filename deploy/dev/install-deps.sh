#!/usr/bin/env bash
# Installs the Debian packages effectd builds and tests with, if missing.
# As root it runs apt-get; otherwise it prints the command and fails.
# The test deps.install_list (tests/deps/check_deps.sh) proves the list complete.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache
  libboost1.81-dev libpqxx-dev libpq-dev libssl-dev nlohmann-json3-dev libsimdjson-dev libcli11-dev
  libkainjow-mustache-dev libsystemd-dev libgtest-dev libgmock-dev libbenchmark-dev
  postgresql-15 postgresql-client-15 postgresql-contrib pgbouncer
  python3 python3-aiosmtpd openssl curl
  chromium systemd mmdebstrap
  clang-14 libfuzzer-14-dev
)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

command=(apt-get install -y --no-install-recommends "${missing[@]}")
if [[ $(id -u) -ne 0 ]]; then
  echo "effectd needs these Debian packages: ${missing[*]}" >&2
  echo "run as root: apt-get update && ${command[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
"${command[@]}" >/dev/null
