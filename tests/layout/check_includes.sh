#!/usr/bin/env bash
# layout.include_directions: each folder includes only the folders below it,
# so that the layout is the architecture (README "Architecture"):
#   base        logging, metrics, backoff: no effectd includes
#   sql         database access, migrations, the status-literal helper
#   http        the HTTP connection core, URLs and address policy
#   config      settings from the environment
#   queue       the outbox (enqueue, effect lifecycle, store) and its delivery
#   handlers    Stripe's events: signature, envelope, event lifecycle, billing
#   intake      webhook to commit: the writer, stored events, the retrier
#   daemon      the composition root: serve, sites, admin, CLI
# Prints each include that goes up or sideways, and exits 1 if there is one.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

declare -A allowed=(
  [base]=""
  [sql]="base"
  [http]="base"
  [config]="base sql http"
  [queue]="base sql http config"
  [handlers]="base sql http config queue"
  [intake]="base sql http config queue handlers"
  [daemon]="base sql http config queue handlers intake"
)

bad=0
for folder in "${!allowed[@]}"; do
  [[ -d $folder ]] || { echo "no folder $folder: update tests/layout/check_includes.sh"; bad=1; continue; }
  while IFS=: read -r file line text; do
    target=$(sed -E 's/^[[:space:]]*#include "([^/"]+)\/.*/\1/' <<<"$text")
    [[ $target == "$folder" || -z ${allowed[$target]+set} ]] && continue
    if [[ " ${allowed[$folder]} " != *" $target "* ]]; then
      echo "$file:$line: $folder/ may not include $target/: $text"
      bad=1
    fi
  done < <(grep -rnE '^[[:space:]]*#include "[^/"]+/' --include='*.cpp' --include='*.hpp' "$folder" || true)
done
# Every source folder is in the table, so a new one gets a place in it.
for dir in */; do
  dir=${dir%/}
  [[ -n $(find "$dir" -maxdepth 2 -name '*.cpp' -print -quit) ]] || continue
  case $dir in tests | bench | build*) continue ;; esac
  [[ -n ${allowed[$dir]+set} ]] || { echo "$dir/ has sources but no row in the table"; bad=1; }
done
exit $bad
