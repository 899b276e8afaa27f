#!/usr/bin/env bash
# deploy.dockerfile: deploy/Dockerfile's two package lists are complete.
#   tests/deploy/check_dockerfile.sh EFFECTD_BINARY
# The build stage must install every package CMakeLists.txt requires
# (effectd_require), and cmake; the runtime stage every library package the
# binary links (dpkg-shlibdeps, as the .deb's Depends), apart from those in
# every Debian image (libc6, libgcc-s1, libstdc++6: apt needs them), plus
# ca-certificates (outgoing TLS) and curl (the HEALTHCHECK).
# deploy/dev/check-docker.sh goes further: it builds and runs from them.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
binary=$(realpath "${1:?usage: check_dockerfile.sh EFFECTD_BINARY}")
dockerfile=$root/deploy/Dockerfile

mapfile -t build < <("$root/deploy/dev/dockerfile-packages.sh" 1 "$dockerfile")
mapfile -t runtime < <("$root/deploy/dev/dockerfile-packages.sh" 2 "$dockerfile")
echo "build stage: ${build[*]}"
echo "runtime stage: ${runtime[*]}"
# No pipe into grep -q here: with pipefail, grep leaving early makes the
# printf die of SIGPIPE and the test fail at random.
has() {
  local want=$1 item
  shift
  for item in "$@"; do [[ $item == "$want" ]] && return 0; done
  return 1
}

failed=0
mapfile -t required < <(grep -oE '^effectd_require\([a-z0-9.+-]+' "$root/CMakeLists.txt" | sed 's/.*(//')
((${#required[@]} > 5)) || { echo "found no effectd_require lines in CMakeLists.txt" >&2; exit 2; }
for p in "${required[@]}" cmake; do
  has "$p" "${build[@]}" || { echo "the build stage lacks $p (CMakeLists.txt requires it)" >&2; failed=1; }
done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/debian"
printf 'Source: effectd\n\nPackage: effectd\nArchitecture: any\n' >"$scratch/debian/control"
depends=$(cd "$scratch" && dpkg-shlibdeps -O -e "$binary" 2>/dev/null | sed 's/^shlibs:Depends=//')
echo "the binary links: $depends"
mapfile -t linked < <(tr ',' '\n' <<<"$depends" | sed 's/(.*//; s/ //g' | sed '/^$/d')
for p in "${linked[@]}"; do
  # In every image; and a sanitizer build's runtimes are not the image's.
  case $p in libc6 | libgcc-s1 | libstdc++6 | libasan* | libubsan* | libtsan*) continue ;; esac
  has "$p" "${runtime[@]}" || { echo "the runtime stage lacks $p (the binary links it)" >&2; failed=1; }
done
for p in ca-certificates curl; do
  has "$p" "${runtime[@]}" || { echo "the runtime stage lacks $p" >&2; failed=1; }
done
exit $failed
