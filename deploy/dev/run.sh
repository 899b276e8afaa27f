#!/usr/bin/env bash
# `make run`: effectd in the foreground against a throwaway PostgreSQL (unless
# DATABASE_URL names one), migrated and seeded with a demo organization.
set -euo pipefail
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
effectd=$build/effectd
cluster=$build/pg-dev

if [[ -z ${DATABASE_URL:-} ]]; then
  trap '"$here/pg.sh" stop "$cluster"; echo "stopped the development PostgreSQL"' EXIT
  DATABASE_URL=$("$here/pg.sh" start "$cluster")
  export DATABASE_URL
  echo "development PostgreSQL: $DATABASE_URL (data in $cluster)"
fi

# A development secret, stable across runs so a `stripe listen` setup keeps working.
secret_file=$build/dev-webhook-secret
[[ -s $secret_file ]] || echo "whsec_dev_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$secret_file"
export STRIPE_WEBHOOK_SECRET=${STRIPE_WEBHOOK_SECRET:-$(cat "$secret_file")}
export EFFECTD_LISTEN=${EFFECTD_LISTEN:-127.0.0.1:8080}
token_file=$build/dev-admin-token
[[ -s $token_file ]] || od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$token_file"
export EFFECTD_ADMIN_LISTEN=${EFFECTD_ADMIN_LISTEN:-127.0.0.1:9090}
export EFFECTD_ADMIN_TOKEN=${EFFECTD_ADMIN_TOKEN:-$(cat "$token_file")}
export EFFECTD_LOG_FORMAT=${EFFECTD_LOG_FORMAT:-text}
export EMAIL_FILE_DIR=${EMAIL_FILE_DIR:-$build/mail}
# serve runs the development channels only when they are chosen.
export EMAIL_PROVIDER=${EMAIL_PROVIDER:-file}
export ANALYTICS_PROVIDER=${ANALYTICS_PROVIDER:-log}

"$effectd" migrate
psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 -f "$here/seed.sql"

cat <<MSG

effectd is starting on http://$EFFECTD_LISTEN
  webhook secret:  $STRIPE_WEBHOOK_SECRET
  demo org:        org_demo (owner: owner@demo.example)
  emails go to:    $EMAIL_FILE_DIR/*.eml (EMAIL_PROVIDER=file)
  queue page:      http://$EFFECTD_ADMIN_LISTEN/admin/ (any user name, password: $EFFECTD_ADMIN_TOKEN)
  metrics:         curl http://$EFFECTD_ADMIN_LISTEN/metrics

Send a signed test event from another terminal:
  STRIPE_WEBHOOK_SECRET=$STRIPE_WEBHOOK_SECRET EFFECTD_LISTEN=$EFFECTD_LISTEN \\
    $effectd dev trigger customer.subscription.created
Or forward real test-mode events: stripe listen --forward-to http://$EFFECTD_LISTEN/webhooks/stripe
  (then set STRIPE_WEBHOOK_SECRET to the secret it prints and rerun make run)
Look at what arrived:
  psql "$DATABASE_URL" -c 'SELECT "id", "type", "status", "receivedAt" FROM "StripeWebhookEvent"'

Ctrl-C stops effectd and the development PostgreSQL.

MSG
# Not exec: the trap above must run after effectd exits.
"$effectd" serve || true
