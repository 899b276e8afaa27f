#!/usr/bin/env bash
# deploy.package: `make package`'s .deb, unpacked into a scratch root, holds
# what the units need and runs there; its Depends are the libraries the
# binary links (from dpkg-shlibdeps), so apt brings exactly those.
#   tests/deploy/check_package.sh BUILD_DIR
set -euo pipefail
build=$(realpath "${1:?usage: check_package.sh BUILD_DIR}")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cpack --config "$build/CPackConfig.cmake" -G DEB -B "$scratch/out" >"$scratch/cpack.log" 2>&1 ||
  { cat "$scratch/cpack.log"; exit 1; }
deb=$(ls "$scratch"/out/effectd_*.deb)
failed=0

depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libpqxx-6.4 libssl3 libsimdjson14 libsystemd0 libstdc++6 libc6; do
  [[ $depends == *"$lib"* ]] || { echo "Depends lacks $lib" >&2; failed=1; }
done

dpkg -x "$deb" "$scratch/root"
for f in usr/bin/effectd usr/lib/systemd/system/effectd.service \
  usr/lib/systemd/system/effectd-migrate.service usr/lib/sysusers.d/effectd.conf \
  usr/lib/tmpfiles.d/effectd.conf usr/share/doc/effectd/effectd.env.example; do
  [[ -e $scratch/root/$f ]] || { echo "the package lacks /$f" >&2; failed=1; }
done
# The unit starts what the package installed.
grep -q '^ExecStart=/usr/bin/effectd serve$' "$scratch/root/usr/lib/systemd/system/effectd.service" ||
  { echo "effectd.service does not start /usr/bin/effectd serve" >&2; failed=1; }

version=$("$scratch/root/usr/bin/effectd" version)
echo "effectd version (from the package): $version"
[[ $version == *"$(dpkg-deb -f "$deb" Version)"* ]] ||
  { echo "the packaged binary says '$version', the package $(dpkg-deb -f "$deb" Version)" >&2; failed=1; }
exit $failed
