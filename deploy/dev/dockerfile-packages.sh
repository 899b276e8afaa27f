#!/usr/bin/env bash
# Prints the packages deploy/Dockerfile's stage N installs (1 = build,
# 2 = runtime), one a line: its continuation lines joined, then the words
# between `apt-get install` and the next `&&`, options aside. Used by
# tests/deploy/check_dockerfile.sh.
#   deploy/dev/dockerfile-packages.sh N [DOCKERFILE]
set -euo pipefail
stage=${1:?usage: dockerfile-packages.sh N [DOCKERFILE]}
dockerfile=${2:-$(cd "$(dirname "$0")/.." && pwd)/Dockerfile}
awk -v want="$stage" '
  /^FROM / { stage++ }
  stage == want { line = line " " $0; if ($0 !~ /\\$/) { print line; line = "" } }
' "$dockerfile" | grep 'apt-get install' | sed 's/.*apt-get install//; s/&&.*//' |
  tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | sort -u
