#!/usr/bin/env bash
# `make soak`: every soak case (tests/soak/) at full length against a
# throwaway PostgreSQL (plus the private clusters the cases start), then the
# cluster is removed. Prints the table; writes it as JSON to
# BUILD/soak/results.json. Exits non-zero when a case fails.
set -euo pipefail
build=$(cd "${1:?usage: soak.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
cluster=$build/pg-soak

"$here/pg.sh" destroy "$cluster"
trap '"$here/pg.sh" destroy "$cluster"' EXIT
url=$("$here/pg.sh" start "$cluster" --fsync off)
export EFFECTD_TEST_ADMIN_URL=${url%/effectd}/postgres
mkdir -p "$build/soak"
export EFFECTD_SOAK=full EFFECTD_SOAK_OUT=$build/soak/results.json
cd "$build"
tests/effectd_soak --gtest_brief=1 "$@"
echo "results: $EFFECTD_SOAK_OUT"
