#!/usr/bin/env bash
# deploy.units: systemd accepts effectd's units as they ship, and their
# confinement rates "OK" or better.
#   tests/deploy/check_units.sh EFFECTD_BINARY
# systemd-analyze verify runs against a scratch root holding the binary at
# /usr/bin/effectd, the units in /etc/systemd/system and systemd's own units
# (for the targets they name); any complaint at all fails, since verify
# itself exits 0 on an unknown key. systemd-analyze security rates each unit
# offline; the README shows the figure.
set -euo pipefail
root_dir=$(cd "$(dirname "$0")/../.." && pwd)
binary=$(realpath "${1:?usage: check_units.sh EFFECTD_BINARY}")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

mkdir -p "$scratch/usr/bin" "$scratch/etc/systemd/system" "$scratch/usr/lib/systemd"
cp "$binary" "$scratch/usr/bin/effectd"
cp "$root_dir"/systemd/*.service "$scratch/etc/systemd/system/"
cp -a "$(realpath /lib/systemd/system)" "$scratch/usr/lib/systemd/system"

failed=0
units=(effectd.service effectd-migrate.service)
complaints=$(systemd-analyze verify --man=no --root="$scratch" \
  "${units[@]/#//etc/systemd/system/}" 2>&1) || failed=1
if [[ -n $complaints || $failed -ne 0 ]]; then
  echo "systemd-analyze verify:"
  echo "$complaints"
  failed=1
fi

for unit in "${units[@]}"; do
  verdict=$(systemd-analyze security --offline=yes --root="$scratch" "$unit" 2>&1 | tail -1)
  echo "$unit: ${verdict#→ }"
  case $verdict in
    *" SAFE"* | *" OK"*) ;;
    *) echo "$unit: the exposure must be OK or better" >&2; failed=1 ;;
  esac
done
exit $failed
