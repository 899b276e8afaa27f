#!/usr/bin/env bash
# `make deploy-check`: the image, the systemd units and the .deb, each really
# run (root; no registry, no Docker engine, no systemd on the host needed).
#   deploy-check.sh BUILD_DIR [WORK_DIR]     (WORK_DIR: BUILD_DIR/deploy-check)
# 1. The image: deploy/Dockerfile built by podman (runc) on a Debian 12 base
#    image made here with mmdebstrap, then run as deploy/docker-compose.yml
#    runs it against a throwaway PostgreSQL: the migrator (`effectd migrate`)
#    first, then the worker. A Stripe-signed event becomes an email in the
#    file provider's directory; the HEALTHCHECK reports healthy; SIGTERM
#    stops it with exit code 0. Prints the image's size.
# 2. The package: a Debian 12 root booted under systemd-nspawn (systemd as
#    PID 1), the .deb installed with apt-get, configured as the README's
#    "Under systemd" section says, `systemctl enable --now effectd`; then the
#    migrate unit first, the service's own user, /healthz, the watchdog
#    restarting a stopped (SIGSTOP) process, a clean `systemctl stop`,
#    `systemd-analyze security` against the README's figure, and an upgrade
#    to a re-versioned copy of the package that loses no event posted during
#    it (each posted until 200, each stored exactly once).
# The .deb is made from what BUILD_DIR holds, by cpack's DEB generator but
# without cpack's "preinstall" step (which builds every target); DEB=path
# uses a given package instead. mmdebstrap's outputs are kept in
# WORK_DIR/cache (FRESH=1 remakes them); the podman store, the booted root
# and the cluster are removed on exit (KEEP=1 keeps the root and logs).
# Prints PASS or FAIL per check; exits 1 at the first failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: deploy-check.sh BUILD_DIR [WORK_DIR]}" && pwd)
work=${2:-$build/deploy-check}
[[ $(id -u) -eq 0 ]] || { echo "deploy-check.sh needs root (podman, systemd-nspawn, apt)" >&2; exit 1; }
started=$(date +%s)

# --- Packages of its own (not in install-deps.sh: make test needs none) ------
extra=(podman buildah runc uidmap fuse-overlayfs slirp4netns catatonit systemd-container mmdebstrap)
missing=()
for p in "${extra[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$work/cache" "$work/logs"
work=$(cd "$work" && pwd)
# One run per folder: a second one would reset the first one's store.
exec 9>"$work/.lock"
flock -n 9 || { echo "deploy-check.sh: another run holds $work/.lock" >&2; exit 1; }
logs=$work/logs
sources=/etc/apt/sources.list.d/debian.sources
[[ -e $sources ]] || sources=/etc/apt/sources.list

# --- Reporting and cleanup ---------------------------------------------------
pass() { printf 'PASS  %s\n' "$*"; }
note() { printf '      %s\n' "$*"; }
fail() {
  printf 'FAIL  %s\n' "$1" >&2
  shift
  for f in "$@"; do [[ -s $f ]] && { echo "--- ${f#"$work"/} (last 30 lines)" >&2; tail -30 "$f" >&2; }; done
  exit 1
}
phase() { printf '\n== %s (%ss so far)\n' "$*" "$(($(date +%s) - started))"; }

export CONTAINERS_CONF=$work/containers.conf
cat >"$CONTAINERS_CONF" <<'CONF'
# No CAP_SYS_RESOURCE here and an open-files hard limit of 20000; crun does
# not run on this cgroup v1 hybrid, runc does.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
P=(podman --root "$work/store" --runroot "$work/run" --storage-driver=overlay)
ns_pid='' leader='' poster_pid=''
E() { timeout 120 nsenter -t "$leader" -a -- "$@"; }

cleanup() {
  set +e
  [[ -n $poster_pid ]] && kill "$poster_pid" 2>/dev/null && wait "$poster_pid" 2>/dev/null
  if [[ -d $work/store ]]; then
    "${P[@]}" rm -f -a -t 5 >/dev/null 2>&1
    "${P[@]}" system reset -f >/dev/null 2>&1
    rm -rf "$work/store" "$work/run"
  fi
  if [[ -n $ns_pid ]] && kill -0 "$ns_pid" 2>/dev/null; then
    [[ -n $leader ]] && timeout 20 nsenter -t "$leader" -a -- systemctl poweroff >/dev/null 2>&1
    for _ in $(seq 100); do kill -0 "$ns_pid" 2>/dev/null || break; sleep 0.2; done
    kill -TERM "$ns_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$ns_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$ns_pid" 2>/dev/null
  fi
  "$here/pg.sh" destroy "$work/pg" >/dev/null 2>&1
  [[ -n ${KEEP:-} ]] || rm -rf "$work/root" "$work/deb" "$work/deb2" "$work/secrets"
}
trap cleanup EXIT
[[ -d $work/store ]] && { "${P[@]}" system reset -f >/dev/null 2>&1 || true; } # an interrupted run's
rm -rf "$work/store" "$work/run" "$work/root" "$work/deb" "$work/deb2" "$work/secrets"
rm -f "$logs"/*

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A Stripe-signed POST, as Stripe signs: v1 = HMAC-SHA256(secret, "<t>.<body>").
# Prints the HTTP status (000 when nothing answered).
post_signed() { # URL SECRET BODY
  local t sig
  t=$(date +%s)
  sig=$(printf '%s.%s' "$t" "$3" | openssl dgst -sha256 -hmac "$2" | sed 's/^.*= //')
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Stripe-Signature: t=$t,v1=$sig" \
    -H 'Content-Type: application/json' --data-binary "$3" "$1" || true
}
# customer.subscription.created for org_demo (deploy/dev/seed.sql): the
# handler enqueues the subscription_started email to its owner.
subscription_event() { # EVENT_ID SUBSCRIPTION_ID
  local now
  now=$(date +%s)
  printf '{"id":"%s","object":"event","api_version":"2025-03-31.basil","created":%s,"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":"customer.subscription.created","data":{"object":{"id":"%s","object":"subscription","customer":"cus_%s","status":"active","cancel_at":null,"cancel_at_period_end":false,"canceled_at":null,"ended_at":null,"trial_start":null,"trial_end":null,"created":%s,"livemode":false,"metadata":{"organizationId":"org_demo"},"items":{"object":"list","data":[{"id":"si_%s","object":"subscription_item","quantity":1,"current_period_start":%s,"current_period_end":%s,"price":{"id":"price_dev_pro_monthly","object":"price","product":"prod_dev_pro","unit_amount":2900,"currency":"usd","recurring":{"interval":"month","interval_count":1}}}]}}}}' \
    "$1" "$now" "$2" "$2" "$now" "$2" "$now" "$((now + 30 * 86400))"
}
# An event the handlers store and ignore, for counting.
plain_event() { # EVENT_ID
  printf '{"id":"%s","object":"event","api_version":"2025-03-31.basil","created":%s,"livemode":false,"pending_webhooks":1,"type":"product.created","data":{"object":{"id":"prod_%s","object":"product"}}}' \
    "$1" "$(date +%s)" "$1"
}

# mmdebstrap into the cache, once (FRESH=1: again).
cached() { # NAME MMDEBSTRAP_ARGS...
  local out=$work/cache/$1
  shift
  [[ -s $out && -z ${FRESH:-} ]] && { note "cached: ${out#"$work"/}"; return; }
  nice -n 19 mmdebstrap --quiet --variant=minbase "$@" bookworm "$out.part.tar" "$sources" \
    >"$logs/mmdebstrap-${out##*/}.log" 2>&1 || fail "mmdebstrap ${out##*/}" "$logs/mmdebstrap-${out##*/}.log"
  mv "$out.part.tar" "$out"
}

phase "PostgreSQL (throwaway, on the host's loopback)"
pg_url=$("$here/pg.sh" start "$work/pg")
pg_port=$(cat "$work/pg/port")
psql_at() { psql "postgresql://postgres@127.0.0.1:$pg_port/$1" -X -q -v ON_ERROR_STOP=1 "${@:2}"; }
createdb -h 127.0.0.1 -p "$pg_port" -U postgres effectd_unit
note "$pg_url (the image's), effectd_unit (the package's)"

###############################################################################
phase "1. The image: deploy/Dockerfile with podman"
# debian:12 and debian:12-slim stand-ins: minbase, merged /usr, and the
# slim images' dpkg path excludes (no docs, man pages, locales).
slim=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
for x in '/usr/share/doc/*' '/usr/share/man/*' '/usr/share/info/*' '/usr/share/locale/*' \
  '/usr/share/groff/*' '/usr/share/lintian/*'; do slim+=(--dpkgopt="path-exclude=$x"); done
slim+=(--dpkgopt='path-include=/usr/share/doc/*/copyright')
cached base-image.tar "${slim[@]}"
{ "${P[@]}" import -q "$work/cache/base-image.tar" debian:12 && "${P[@]}" tag debian:12 debian:12-slim; } \
  >"$logs/podman-import.log" 2>&1 || fail "podman import of the base image" "$logs/podman-import.log"
t0=$(date +%s)
# The repository root as the context (its .dockerignore applies); docker
# format, since OCI drops HEALTHCHECK.
(cd "$root" && nice -n 19 "${P[@]}" build --format docker --network=host --pull=never \
  -f deploy/Dockerfile -t effectd . >"$logs/podman-build.log" 2>&1) ||
  fail "image builds from deploy/Dockerfile" "$logs/podman-build.log"
pass "image builds from deploy/Dockerfile ($(($(date +%s) - t0))s)"
size=$("${P[@]}" image inspect --format '{{.Size}}' effectd)
gz=$("${P[@]}" save --format docker-archive effectd 2>"$logs/podman-save.log" | gzip -6 | wc -c) ||
  fail "podman save effectd" "$logs/podman-save.log"
image_size="$((size / 1000000)) MB ($((gz / 1000000)) MB gzip-compressed)"
note "image size: $image_size"
[[ $("${P[@]}" image inspect --format '{{.Config.User}}' effectd) == effectd ]] ||
  fail "image runs as the user effectd"

# As deploy/docker-compose.yml: secrets as files under /run/secrets, the
# migrator to completion, then the worker with its environment and ports.
mkdir -p "$work/secrets"
echo "postgresql://postgres@10.0.2.2:$pg_port/effectd" >"$work/secrets/database_url" # the host's loopback, via slirp4netns
secret=whsec_deploycheck_$(openssl rand -hex 8)
echo "$secret" >"$work/secrets/stripe_webhook_secret"
openssl rand -hex 16 >"$work/secrets/admin_token"
chmod 0644 "$work/secrets"/*
net=(--network=slirp4netns:allow_host_loopback=true)
mount_secret() { echo "--volume=$work/secrets/$1:/run/secrets/$1:ro"; }
"${P[@]}" run --rm --name effectd-migrate "${net[@]}" -e DATABASE_URL_FILE=/run/secrets/database_url \
  "$(mount_secret database_url)" effectd migrate >"$logs/image-migrate.log" 2>&1 ||
  fail "the migrator (effectd migrate) succeeds" "$logs/image-migrate.log"
pass "the migrator ran first: $(grep -c '^applied' "$logs/image-migrate.log") migrations applied, exit 0"
psql_at effectd -f "$here/seed.sql"

web_port=$(free_port) admin_port=$(free_port)
"${P[@]}" run -d --name effectd "${net[@]}" \
  -e DATABASE_URL_FILE=/run/secrets/database_url \
  -e STRIPE_WEBHOOK_SECRET_FILE=/run/secrets/stripe_webhook_secret \
  -e EFFECTD_LISTEN=0.0.0.0:8080 -e EFFECTD_ADMIN_LISTEN=0.0.0.0:9090 \
  -e EFFECTD_ADMIN_TOKEN_FILE=/run/secrets/admin_token \
  -e EMAIL_PROVIDER=file -e ANALYTICS_PROVIDER=log \
  "$(mount_secret database_url)" "$(mount_secret stripe_webhook_secret)" "$(mount_secret admin_token)" \
  -p "127.0.0.1:$web_port:8080" -p "127.0.0.1:$admin_port:9090" --stop-timeout 30 \
  effectd >"$logs/image-run.log" 2>&1 || fail "the worker container starts" "$logs/image-run.log"
worker_log() { "${P[@]}" logs effectd >"$logs/image-worker.log" 2>&1 || true; echo "$logs/image-worker.log"; }
for _ in $(seq 100); do
  curl -fs "127.0.0.1:$web_port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "127.0.0.1:$web_port/healthz" >/dev/null || fail "the worker listens" "$(worker_log)"

# Without systemd on the host podman arms no timer for the interval: run
# the HEALTHCHECK as the timer would, then read the state it recorded.
health=
for _ in $(seq 15); do
  "${P[@]}" healthcheck run effectd >/dev/null 2>&1 && health=$("${P[@]}" inspect --format '{{.State.Health.Status}}' effectd)
  [[ $health == healthy ]] && break
  sleep 1
done
[[ $health == healthy ]] || fail "HEALTHCHECK: '$health', not healthy" "$(worker_log)"
pass "HEALTHCHECK ($("${P[@]}" inspect --format '{{join .Config.Healthcheck.Test " "}}' effectd | sed 's/^CMD-SHELL //')): $health"

code=$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$admin_port/admin/api/stats")
auth=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$work/secrets/admin_token")" \
  "127.0.0.1:$admin_port/admin/api/stats")
[[ $code == 401 && $auth == 200 ]] || fail "admin API: $code without the token, $auth with it (want 401, 200)" "$(worker_log)"
pass "admin API on the published port: 401 without EFFECTD_ADMIN_TOKEN_FILE's token, 200 with it"

code=$(post_signed "http://127.0.0.1:$web_port/webhooks/stripe" "$secret" "$(subscription_event evt_deploycheck_image sub_deploycheck_image)")
[[ $code == 200 ]] || fail "signed event answered $code, not 200" "$(worker_log)"
code=$(post_signed "http://127.0.0.1:$web_port/webhooks/stripe" whsec_wrong "$(plain_event evt_deploycheck_forged)")
[[ $code == 400 ]] || fail "an event signed with another secret answered $code, not 400" "$(worker_log)"
pass "signed event stored (200); one signed with another secret refused (400)"
eml=
for _ in $(seq 60); do
  eml=$("${P[@]}" exec effectd sh -c 'ls effectd-mail/*.eml 2>/dev/null' || true)
  [[ -n $eml ]] && break
  sleep 0.5
done
[[ -n $eml ]] || fail "no email in /var/lib/effectd/effectd-mail" "$(worker_log)"
"${P[@]}" exec effectd cat "$eml" >"$logs/image-email.eml"
grep -q '^To: owner@demo.example' "$logs/image-email.eml" || fail "the email is not to owner@demo.example" "$logs/image-email.eml"
state=$(psql_at effectd -tAc "SELECT string_agg(kind || '=' || status, ',' ORDER BY kind) FROM \"OutboundEffect\"")
[[ $state == "analytics=sent,email=sent" ]] || fail "effects: $state (want analytics=sent,email=sent)" "$(worker_log)"
pass "email effect delivered: /var/lib/effectd/$eml ($(sed -n 's/^Subject: //p' "$logs/image-email.eml")), effects $state"

"${P[@]}" stop -t 30 effectd >/dev/null 2>>"$logs/image-run.log"
exit_code=$("${P[@]}" inspect --format '{{.State.ExitCode}}' effectd)
worker_log >/dev/null
{ grep -q '"msg":"shutting down","signal":"SIGTERM"' "$logs/image-worker.log" && grep -q '"msg":"stopped"' "$logs/image-worker.log"; } ||
  fail "no clean shutdown in the log after SIGTERM" "$logs/image-worker.log"
[[ $exit_code == 0 ]] || fail "exit code $exit_code after SIGTERM" "$logs/image-worker.log"
pass "podman stop (STOPSIGNAL SIGTERM): exit code 0, logged \"shutting down\" (SIGTERM) then \"stopped\""
"${P[@]}" rm -f -a >/dev/null 2>&1
"${P[@]}" system reset -f >/dev/null 2>&1
rm -rf "$work/store" "$work/run"

###############################################################################
phase "2. The package under systemd (systemd-nspawn)"
if [[ -n ${DEB:-} ]]; then
  deb=$(realpath "$DEB")
else
  # cpack's DEB generator over the build's own install script, with the
  # packaging prefix and a manifest of its own: cpack's CMake-project
  # install would first build the "preinstall" target, that is all of them.
  prefix=$(sed -n 's/^set(CPACK_PACKAGING_INSTALL_PREFIX "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
  mkdir -p "$work/deb"
  { echo "set(CMAKE_INSTALL_PREFIX \"${prefix:-/usr}\")"
    sed "s|file(WRITE \"$build/\${CMAKE_INSTALL_MANIFEST}\"|file(WRITE \"$work/deb/\${CMAKE_INSTALL_MANIFEST}\"|" \
      "$build/cmake_install.cmake"; } >"$work/deb/install.cmake"
  cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/deb" -D CPACK_INSTALL_CMAKE_PROJECTS= \
    -D CPACK_INSTALL_SCRIPTS="$work/deb/install.cmake" -D CMAKE_INSTALL_DO_STRIP=1 >"$logs/cpack.log" 2>&1 ||
    fail "cpack -G DEB" "$logs/cpack.log"
  deb=$(ls "$work"/deb/effectd_*.deb)
fi
version=$(dpkg-deb -f "$deb" Version)
[[ $(dpkg-deb -c "$deb") == *' ./usr/bin/effectd'* ]] || fail "${deb##*/} holds no /usr/bin/effectd"
note "package: ${deb##*/} (Depends: $(dpkg-deb -f "$deb" Depends))"
# The second build for the upgrade: the same files, a higher version.
mkdir -p "$work/deb2"
dpkg-deb -R "$deb" "$work/deb2/tree"
sed -i "s/^Version: .*/Version: $version+deploycheck1/" "$work/deb2/tree/DEBIAN/control"
dpkg-deb -b --root-owner-group "$work/deb2/tree" "$work/deb2/effectd_${version}+deploycheck1_amd64.deb" >/dev/null
deb2=$work/deb2/effectd_${version}+deploycheck1_amd64.deb

cached nspawn-root.tar --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --include=systemd,systemd-sysv,dbus,curl,ca-certificates
mkdir -p "$work/root"
tar -xf "$work/cache/nspawn-root.tar" -C "$work/root"
rm -f "$work/root/etc/machine-id"
echo effectd-deploycheck >"$work/root/etc/hostname"
cp "$deb" "$deb2" "$work/root/root/" # not /tmp: nspawn mounts a tmpfs there
# Without --private-network the container shares the host's network:
# 127.0.0.1 reaches the cluster, and the host reaches the daemon.
setsid systemd-nspawn -b -D "$work/root" --machine=effectd-deploycheck --register=no --keep-unit \
  --console=read-only </dev/null >"$logs/nspawn.log" 2>&1 &
ns_pid=$!
for _ in $(seq 100); do leader=$(pgrep -P "$ns_pid" -x systemd) && break; sleep 0.2; done
[[ -n $leader ]] || fail "systemd-nspawn boots systemd" "$logs/nspawn.log"
for _ in $(seq 100); do E systemctl is-system-running >/dev/null 2>&1 && break
  [[ $(E systemctl is-system-running 2>/dev/null) == starting ]] && break; sleep 0.2; done
system=$(E systemctl is-system-running --wait 2>&1 || true)
[[ $system == running ]] || fail "the booted system is '$system': $(E systemctl --failed --no-legend 2>&1)" "$logs/nspawn.log"
pass "Debian 12 booted under systemd-nspawn, systemd $(E systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p') as PID 1: $system"

E sh -c "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && cd /root && apt-get install -y ./${deb##*/}" \
  >"$logs/apt-install.log" 2>&1 || fail "apt-get install ./${deb##*/}" "$logs/apt-install.log"
E getent passwd effectd >/dev/null || fail "postinst made no effectd user" "$logs/apt-install.log"
enabled=$(E systemctl is-enabled effectd 2>&1 || true)
pass "apt-get install ./${deb##*/}: Depends resolved ($(grep -c '^Setting up' "$logs/apt-install.log") packages set up), user effectd made, unit $enabled"

# The README's step 2, with the file and log channels and free ports (the
# network is the host's).
unit_port=$(free_port)
E bash -ec "
effectd config example > /etc/effectd/effectd.env
cat >> /etc/effectd/effectd.env <<ENV
EFFECTD_LISTEN=127.0.0.1:$unit_port
EFFECTD_ADMIN_LISTEN=off
EMAIL_PROVIDER=file
ANALYTICS_PROVIDER=log
ENV
install -m 0640 -g effectd /dev/stdin /etc/effectd/credentials/database-url <<<'postgresql://postgres@127.0.0.1:$pg_port/effectd_unit'
install -m 0640 -g effectd /dev/stdin /etc/effectd/credentials/stripe-webhook-secret <<<'$secret'
runuser -u effectd -- sh -c 'set -a; . /etc/effectd/effectd.env
  DATABASE_URL_FILE=/etc/effectd/credentials/database-url
  STRIPE_WEBHOOK_SECRET_FILE=/etc/effectd/credentials/stripe-webhook-secret
  effectd config check'" >"$logs/config-check.log" 2>&1 || fail "effectd config check as effectd" "$logs/config-check.log"
pass "configured as the README says; effectd config check (as effectd, secrets from the credential files): $(tail -1 "$logs/config-check.log")"

journal() { E journalctl --no-pager -o cat "$@" >"$logs/journal.log" 2>&1 || true; echo "$logs/journal.log"; }
E systemctl enable --now effectd >"$logs/enable.log" 2>&1 || fail "systemctl enable --now effectd" "$logs/enable.log" "$(journal -u effectd -u effectd-migrate)"
show() { E systemctl show -P "$2" "$1"; }
[[ $(show effectd-migrate.service ActiveState) == active && $(show effectd-migrate.service Result) == success &&
  $(show effectd-migrate.service ExecMainStatus) == 0 ]] || fail "effectd-migrate.service did not succeed" "$(journal -u effectd-migrate)"
migrated=$(show effectd-migrate.service ExecMainExitTimestampMonotonic)
served=$(show effectd.service ExecMainStartTimestampMonotonic)
((migrated > 0 && migrated <= served)) || fail "effectd started ($served) before the migrations ended ($migrated)" "$(journal -u effectd -u effectd-migrate)"
pass "effectd-migrate.service ran first: exit 0, $(journal -u effectd-migrate >/dev/null; grep -c '^applied' "$logs/journal.log") migrations, ended $(((served - migrated) / 1000)) ms before effectd started"

[[ $(show effectd ActiveState) == active && $(show effectd StatusText) == serving ]] ||
  fail "effectd.service is $(show effectd ActiveState) ('$(show effectd StatusText)')" "$(journal -u effectd)"
pid=$(show effectd MainPID)
uid=$(E sh -c "sed -n 's/^Uid:\t\([0-9]*\).*/\1/p' /proc/$pid/status")
[[ $uid == "$(E id -u effectd)" && $uid != 0 ]] || fail "effectd runs as uid $uid, not effectd's"
caps=$(E sh -c "sed -n 's/^CapEff:\t//p' /proc/$pid/status")
pass "effectd.service active (Type=notify: \"serving\") as effectd (uid $uid, not root), CapEff=$caps, $(E sh -c "grep 'open files' /proc/$pid/limits" | awk '{print "open files " $4}')"

health=$(curl -fs "127.0.0.1:$unit_port/healthz" 2>&1) || fail "/healthz: $health" "$(journal -u effectd)"
pass "/healthz: $health"

psql_at effectd_unit -f "$here/seed.sql"
code=$(post_signed "http://127.0.0.1:$unit_port/webhooks/stripe" "$secret" "$(subscription_event evt_deploycheck_unit sub_deploycheck_unit)")
[[ $code == 200 ]] || fail "signed event answered $code, not 200" "$(journal -u effectd)"
for _ in $(seq 60); do compgen -G "$work/root/var/lib/effectd/effectd-mail/*.eml" >/dev/null && break; sleep 0.5; done
compgen -G "$work/root/var/lib/effectd/effectd-mail/*.eml" >/dev/null || fail "no email in the StateDirectory" "$(journal -u effectd)"
pass "signed event -> email written in StateDirectory /var/lib/effectd/effectd-mail (ProtectSystem=strict leaves it writable)"

rating=$(E systemd-analyze security effectd.service 2>&1 | tail -1 | sed 's/^.*effectd.service: //; s/ *[^ -~]*$//')
rating_migrate=$(E systemd-analyze security effectd-migrate.service 2>&1 | tail -1 | sed 's/^.*service: //; s/ *[^ -~]*$//')
readme=$(grep -o 'rates \*\*[0-9.]* [A-Z]*\*\*' "$root/README.md" | head -1 | sed 's/rates \*\*//; s/\*\*//')
[[ $rating == "$readme" ]] || fail "systemd-analyze security effectd.service: '$rating', the README says '$readme'"
pass "systemd-analyze security (in the booted system): effectd.service $rating, effectd-migrate.service $rating_migrate (README: $readme)"

# The watchdog: a process that stops pinging (SIGSTOP) is killed and restarted.
restarts=$(show effectd NRestarts)
t0=$(date +%s)
E systemctl kill --kill-who=main --signal=SIGSTOP effectd
for _ in $(seq 90); do
  [[ $(show effectd NRestarts) -gt $restarts && $(show effectd ActiveState) == active && $(show effectd MainPID) != "$pid" ]] && break
  sleep 1
done
journal -u effectd >/dev/null
{ grep -q "Failed with result 'watchdog'" "$logs/journal.log" && [[ $(show effectd NRestarts) -gt $restarts ]]; } ||
  fail "no watchdog restart within 90 s of SIGSTOP" "$logs/journal.log"
curl -fs "127.0.0.1:$unit_port/healthz" >/dev/null || fail "/healthz after the watchdog restart" "$logs/journal.log"
pass "watchdog: SIGSTOPped PID $pid -> Result=watchdog (WatchdogSec=$(show effectd WatchdogUSec)), NRestarts=$(show effectd NRestarts), PID $(show effectd MainPID) serving $(($(date +%s) - t0))s later"

invocation=$(show effectd InvocationID)
E systemctl stop effectd
journal _SYSTEMD_INVOCATION_ID="$invocation" >/dev/null
{ [[ $(show effectd Result) == success && $(show effectd ExecMainCode) == 1 && $(show effectd ExecMainStatus) == 0 ]] &&
  grep -q '"msg":"stopped"' "$logs/journal.log"; } ||
  fail "systemctl stop: Result=$(show effectd Result) ExecMainCode=$(show effectd ExecMainCode) ExecMainStatus=$(show effectd ExecMainStatus)" "$logs/journal.log"
pass "systemctl stop: Result=success, exited with status 0, logged \"stopped\""

# The upgrade: events posted all along it, each until it is answered 200.
E systemctl start effectd
old_pid=$(show effectd MainPID)
: >"$logs/upgrade-posts.log"
stop_flag=$logs/upgrade.stop
rm -f "$stop_flag"
(
  i=0
  while [[ ! -e $stop_flag ]]; do
    i=$((i + 1))
    id=evt_deploycheck_upgrade_$i
    tries=0
    until [[ $(post_signed "http://127.0.0.1:$unit_port/webhooks/stripe" "$secret" "$(plain_event "$id")") == 200 ]]; do
      tries=$((tries + 1))
      ((tries < 600)) || { echo "$id GAVE_UP" >>"$logs/upgrade-posts.log"; exit 1; }
      sleep 0.1
    done
    echo "$id $tries" >>"$logs/upgrade-posts.log"
  done
) &
poster_pid=$!
sleep 2
t0=$(date +%s)
E sh -c "cd /root && DEBIAN_FRONTEND=noninteractive apt-get install -y ./${deb2##*/}" >"$logs/apt-upgrade.log" 2>&1 ||
  fail "apt-get install ./${deb2##*/}" "$logs/apt-upgrade.log"
upgrade_s=$(($(date +%s) - t0))
sleep 3
touch "$stop_flag"
wait "$poster_pid" || fail "a sender gave up on an event" "$logs/upgrade-posts.log"
poster_pid=
new_pid=$(show effectd MainPID)
installed=$(E dpkg-query -W -f="\${Version}" effectd)
[[ $installed == "$version+deploycheck1" ]] || fail "installed version $installed after the upgrade"
[[ $new_pid != "$old_pid" && $(show effectd ActiveState) == active ]] ||
  fail "the upgrade did not restart effectd (PID $old_pid -> $new_pid)" "$(journal -u effectd)"
exe=$(E readlink "/proc/$new_pid/exe")
[[ $exe == /usr/bin/effectd ]] || fail "the running binary is '$exe', not the upgrade's /usr/bin/effectd"
posted=$(wc -l <"$logs/upgrade-posts.log")
retried=$(awk '$2 > 0' "$logs/upgrade-posts.log" | wc -l)
awk '{print $1}' "$logs/upgrade-posts.log" | sort >"$logs/upgrade-sent.txt"
psql_at effectd_unit -tAc "SELECT id FROM \"StripeWebhookEvent\" WHERE id LIKE 'evt_deploycheck_upgrade_%' ORDER BY id" |
  sort >"$logs/upgrade-stored.txt"
psql_at effectd_unit -tAc "SELECT id FROM \"StripeWebhookEvent\" GROUP BY id HAVING count(*) > 1" >"$logs/upgrade-twice.txt"
{ cmp -s "$logs/upgrade-sent.txt" "$logs/upgrade-stored.txt" && [[ ! -s $logs/upgrade-twice.txt ]]; } ||
  fail "events answered 200 ($posted) and events stored ($(wc -l <"$logs/upgrade-stored.txt")) differ" \
    "$logs/upgrade-posts.log" "$logs/upgrade-twice.txt"
pass "upgrade $version -> $installed (apt-get ${upgrade_s}s): postinst restarted effectd (PID $old_pid -> $new_pid, new binary); $posted events posted during it, $retried of them retried after a non-200, all $posted stored exactly once"

phase "done"
echo "deploy-check passed in $(($(date +%s) - started))s; image size $image_size; systemd-analyze security: $rating"
