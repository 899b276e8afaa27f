#!/usr/bin/env bash
# deploy/Dockerfile's steps without a Docker engine (none runs on the
# development machines): two Debian 12 roots made with mmdebstrap from
# exactly the Dockerfile's package lists, its build commands run in the
# first, and the binary started from the second as the unprivileged user
# against a throwaway PostgreSQL, with the HEALTHCHECK's own command.
#   make docker-check        (about 5 minutes on two cores; needs root)
# What this cannot show: Docker's own layer handling, COPY's .dockerignore,
# and the published debian:12 images' exact contents (minbase and the apt
# variant stand in for debian:12-slim and debian:12).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:-$root/build/docker-check}
dockerfile=$root/deploy/Dockerfile
[[ $(id -u) -eq 0 ]] || { echo "check-docker.sh needs root (mmdebstrap, chroot)" >&2; exit 1; }

cleanup() {
  [[ -n ${pid:-} ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  umount "$work/build-root/proc" 2>/dev/null || true
  "$here/pg.sh" destroy "$work/pg" >/dev/null 2>&1 || true
  [[ -n ${KEEP:-} ]] || rm -rf "$work/build-root" "$work/runtime-root"
}
trap cleanup EXIT
rm -rf "$work/build-root" "$work/runtime-root"
mkdir -p "$work"
list() { "$here/dockerfile-packages.sh" "$1" "$dockerfile" | paste -sd, -; }

echo "== build stage (debian:12): $(list 1)"
mmdebstrap --quiet --variant=apt --include="$(list 1)" bookworm "$work/build-root"
# COPY . . (the working tree as git sees it, uncommitted changes included)
mkdir -p "$work/build-root/src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -c) |
  tar -x -C "$work/build-root/src"
# The stage's RUN after COPY, as written in the Dockerfile.
build_run=$(awk '/^FROM /{s++} s==1 && /^RUN cmake/{on=1} on{sub(/^RUN /,""); printf "%s\n", $0; if ($0 !~ /\\$/) exit}' "$dockerfile")
mount --bind /proc "$work/build-root/proc"
chroot "$work/build-root" sh -ec "cd /src && $build_run"
umount "$work/build-root/proc"

echo "== runtime stage (debian:12-slim): $(list 2)"
mmdebstrap --quiet --variant=minbase --include="$(list 2)" bookworm "$work/runtime-root"
# The stage's RUN after its apt-get (the user), as written in the Dockerfile.
user_run=$(awk '/^FROM /{s++} s==2 && /useradd/{sub(/^.*&& */,""); print; exit}' "$dockerfile")
[[ $user_run == useradd* ]] || { echo "no useradd in the runtime stage" >&2; exit 1; }
chroot "$work/runtime-root" sh -ec "$user_run"
workdir=$(awk '/^FROM /{s++} s==2 && /^WORKDIR /{print $2}' "$dockerfile")
cp "$work/build-root/build/effectd" "$work/runtime-root/usr/bin/effectd"
as_effectd() { chroot --userspec=effectd:effectd "$work/runtime-root" sh -c 'cd "$0" && exec "$@"' "$workdir" "$@"; }
echo "effectd version: $(as_effectd /usr/bin/effectd version)"

url=$("$here/pg.sh" start "$work/pg")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_effectd env DATABASE_URL="$url" /usr/bin/effectd migrate
# chroot itself, not a function, in the background: $! must be effectd
# (chroot execs it) for the SIGTERM below to reach it.
chroot --userspec=effectd:effectd "$work/runtime-root" sh -c 'cd "$0" && exec "$@"' "$workdir" env DATABASE_URL="$url" \
  STRIPE_WEBHOOK_SECRET=whsec_docker_check EMAIL_PROVIDER=file ANALYTICS_PROVIDER=log EFFECTD_LISTEN="127.0.0.1:$port" \
  EFFECTD_ADMIN_LISTEN=off EFFECTD_LOG_FORMAT=json /usr/bin/effectd serve \
  >"$work/serve.log" 2>&1 &
pid=$!
healthcheck=$(sed -n 's/^HEALTHCHECK .* CMD //p' "$dockerfile" | sed "s/127.0.0.1:8080/127.0.0.1:$port/")
for _ in $(seq 100); do
  chroot "$work/runtime-root" sh -c "$healthcheck" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "HEALTHCHECK ($healthcheck): $(chroot "$work/runtime-root" sh -c "$healthcheck")"
# Outgoing TLS verifies against the image's CA bundle.
[[ -s $work/runtime-root/etc/ssl/certs/ca-certificates.crt ]] || { echo "no CA bundle in the runtime root" >&2; exit 1; }
kill -TERM "$pid"
wait "$pid" && status=0 || status=$?
pid=
grep -q '"msg":"stopped"' "$work/serve.log" || { cat "$work/serve.log"; exit 1; }
echo "serve exited $status after SIGTERM; docker-check passed"
exit "$status"
