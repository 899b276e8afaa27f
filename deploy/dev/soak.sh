#!/usr/bin/env bash
# `make soak`: every soak case (tests/soak/) at full length against make
# test's throwaway PostgreSQL (plus the private clusters the cases start).
# Prints the table; writes it as JSON to BUILD/soak/results.json. Exits
# non-zero when a case fails. Extra arguments go to the soak binary
# (--gtest_filter=...).
set -euo pipefail
build=$(cd "${1:?usage: soak.sh BUILD_DIR [gtest flags]}" && pwd)
shift
mkdir -p "$build/soak"
export EFFECTD_SOAK=full EFFECTD_SOAK_OUT=$build/soak/results.json
"$(dirname "$0")/test.sh" "$build" tests/effectd_soak --gtest_brief=1 "$@"
echo "results: $EFFECTD_SOAK_OUT"
