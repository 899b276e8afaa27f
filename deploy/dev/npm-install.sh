#!/usr/bin/env bash
# Installs the Node packages the tests use (Stripe's SDK, Prisma) into
# tests/node, exactly as pinned by its lockfile. Skipped when up to date.
set -euo pipefail
cd "$(dirname "$0")/../../tests/node"
stamp=node_modules/.effectd-lock
if [[ -f $stamp ]] && cmp -s package-lock.json "$stamp"; then exit 0; fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
