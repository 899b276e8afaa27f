#!/usr/bin/env bash
# Writes what config/settings.cpp says into config/effectd.env.example and
# the README's table of settings (between its settings:begin/end markers).
#   deploy/dev/settings-docs.sh EFFECTD_BINARY          write both
#   deploy/dev/settings-docs.sh EFFECTD_BINARY --check  fail if either differs
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
effectd=${1:?usage: settings-docs.sh EFFECTD_BINARY [--check]}
check=${2:-}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$effectd" config example >"$scratch/effectd.env.example"
"$effectd" config reference >"$scratch/table.md"
python3 - "$root/README.md" "$scratch/table.md" "$scratch/README.md" <<'PY'
import re, sys
readme, table, out = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3]
pattern = re.compile(r"(<!-- settings:begin[^>]*-->\n).*?(<!-- settings:end -->)", re.S)
if not pattern.search(readme):
    sys.exit("README.md has no settings:begin/end markers")
open(out, "w").write(pattern.sub(lambda m: m.group(1) + table + m.group(2), readme))
PY

failed=0
for pair in "config/effectd.env.example:effectd.env.example" "README.md:README.md"; do
  file=${pair%%:*} made=$scratch/${pair#*:}
  if [[ $check == --check ]]; then
    diff -u "$root/$file" "$made" >"$scratch/diff" ||
      { echo "$file is not what config/settings.cpp says; run make settings-docs:"; cat "$scratch/diff"; failed=1; }
  else
    cp "$made" "$root/$file"
  fi
done
exit $failed
