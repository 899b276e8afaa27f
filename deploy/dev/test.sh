#!/usr/bin/env bash
# `make test`: a throwaway PostgreSQL on a free port, every CTest suite
# against it, then the cluster is removed. Exits non-zero on any failure.
#   test.sh BUILD [COMMAND ...]   COMMAND (run in BUILD) instead of ctest:
#                                 make soak runs the soak binary this way.
set -euo pipefail
build=$(cd "${1:?usage: test.sh BUILD_DIR [COMMAND ...]}" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
cluster=$build/pg-test

"$here/pg.sh" destroy "$cluster"
trap '"$here/pg.sh" destroy "$cluster"' EXIT
url=$("$here/pg.sh" start "$cluster" --fsync off)
export EFFECTD_TEST_ADMIN_URL=${url%/effectd}/postgres
echo "test database cluster: $EFFECTD_TEST_ADMIN_URL"

# For a SANITIZE= build: stop at the first finding, with a stack; the
# suppressions name leaks outside effectd's code (tests/sanitizers/).
root=$(cd "$here/../.." && pwd)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

cd "$build"
if (($# > 0)); then
  "$@"
else
  ctest --output-on-failure --timeout 600 -j "${CTEST_JOBS:-2}"
fi
