#!/usr/bin/env bash
# (Release, without -g: clang 14 cannot emit debug info for the coroutines
# of the HTTP servers under ASan, "Cannot represent a difference across
# sections".)
# make fuzz: each libFuzzer target for FUZZ_SECONDS (default 60), with ASan
# and UBSan, starting from its seeds in tests/fuzz/corpus/<target>/. What a
# run finds is written to build/fuzz/crashes/<target>/; add it to the seed
# corpus (and a unit test) once fixed, and make test replays it for ever.
#   deploy/dev/fuzz.sh [TARGET ...]    (default: every target)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build/fuzz
seconds=${FUZZ_SECONDS:-60}
cd "$root"
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(sed -n 's/^set(EFFECTD_FUZZ_TARGETS \(.*\))$/\1/p' tests/fuzz/CMakeLists.txt | tr ' ' '\n')
fi
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Release \
  -DEFFECTD_FUZZ=ON -DEFFECTD_SANITIZE=address -DEFFECTD_WERROR=OFF \
  -DEFFECTD_BUILD_TESTS=ON -DEFFECTD_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/crashes/$t"
  echo "== $t, $seconds s"
  if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$build/crashes/$t/" "$build/corpus/$t" "tests/fuzz/corpus/$t" \
      >"$build/$t.log" 2>&1; then
    echo "$t found something: $(ls "$build/crashes/$t")"; tail -30 "$build/$t.log"; failed=1
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$build/$t.log" | tr '\n' ' '; echo
done
exit $failed
