#!/usr/bin/env bash
# `make test`: a throwaway PostgreSQL on a free port, every CTest suite
# against it, then the cluster is removed. Exits non-zero on any failure.
set -euo pipefail
build=$(cd "${1:?usage: test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
cluster=$build/pg-test

"$here/pg.sh" destroy "$cluster"
trap '"$here/pg.sh" destroy "$cluster"' EXIT
url=$("$here/pg.sh" start "$cluster" --fsync off)
export EFFECTD_TEST_ADMIN_URL=${url%/effectd}/postgres
echo "test database cluster: $EFFECTD_TEST_ADMIN_URL"

cd "$build"
ctest --output-on-failure --timeout 600 -j "${CTEST_JOBS:-2}"
