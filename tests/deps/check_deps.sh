#!/usr/bin/env bash
# deps.install_list: deploy/dev/install-deps.sh installs everything the build,
# the tests and `make bench` use. Each system header the C++ sources include,
# each Python module the stand-ins load and each program the scripts and tests
# run must come from a Debian package the script installs, one those depend on
# (recursively), or an Essential package (present on every Debian system).
#   tests/deps/check_deps.sh [INSTALL_DEPS_SCRIPT]   (default: deploy/dev/install-deps.sh)
# Prints what is not covered, with the package it comes from, and exits 1.
set -euo pipefail
shopt -s extglob
root=$(cd "$(dirname "$0")/../.." && pwd)
install_deps=${1:-$root/deploy/dev/install-deps.sh}
cxx=${CXX:-c++}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
cd "$root"

# The packages the script installs: the words in its packages=(...) and packages+=(...).
mapfile -t listed < <(sed 's/#.*//' "$install_deps" |
  awk '/packages\+?=\(/ { on = 1 } on { print } on && /\)/ { on = 0 }' |
  sed 's/.*packages+\{0,1\}=(//; s/).*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
((${#listed[@]})) || { echo "no packages=(...) found in $install_deps" >&2; exit 2; }

# Those packages, everything they depend on, and the Essential packages with theirs.
mapfile -t essential < <(dpkg-query -W -f='${Essential} ${Package}\n' | awk '$1 == "yes" { print $2 }')
declare -A covered=()
while read -r p; do covered[$p]=1; done < <(
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "${listed[@]}" "${essential[@]}" 2>/dev/null |
    grep -v '^ ' | tr -d '<>' | sort -u)

# What to check, one "path<TAB>what" line each.
items=()
problems=()
for p in "${listed[@]}"; do
  [[ -n ${covered[$p]:-} ]] || problems+=("$p: listed in $install_deps but unknown to apt")
done

# Headers, found where the compiler looks for <...>.
mapfile -t dirs < <("$cxx" -std=c++20 -xc++ -E -v - </dev/null 2>&1 |
  sed -n '/^#include <...> search starts here:/,/^End of search list/s/^ //p' | xargs realpath -s)
mapfile -t sources < <(git ls-files --cached --others --exclude-standard '*.cpp' '*.hpp' 2>/dev/null ||
  find . \( -path ./build -o -path ./tests/node \) -prune -o \( -name '*.cpp' -o -name '*.hpp' \) -print)
declare -A seen=()
while IFS=: read -r file header; do
  [[ -n ${seen[$header]:-} || -e $root/$header ]] && continue # <...> of the project's own
  seen[$header]=1
  path=
  for d in "${dirs[@]}"; do [[ -e $d/$header ]] && { path=$d/$header; break; }; done
  if [[ -n $path ]]; then items+=("$path"$'\t'"header <$header> ($file)")
  else problems+=("header <$header> ($file): not found in ${dirs[*]}"); fi
done < <(grep -s -H -o -E '^\s*#\s*include\s*<[^>]+>' "${sources[@]}" | sed -E 's/:\s*#\s*include\s*<(.*)>$/:\1/')

((${#seen[@]})) || problems+=("no #include <...> found in the sources")

# Python modules the stand-ins import, and every module those load in turn.
python=$(/usr/bin/python3 - tests/standin/*.py <<'PY'
import ast, importlib, os, sys
print(f"{os.path.realpath(sys.executable)}\tpython3 (runs tests/standin/*.py)")
for script in sys.argv[1:]:
    try:
        tree = ast.parse(open(script).read(), script)
    except SyntaxError as e:
        print(f"MISSING\t{script}: cannot read its imports: {e}")
        continue
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            before = set(sys.modules)
            try:
                importlib.import_module(name)
            except ImportError as e:
                print(f"MISSING\tpython module {name} ({script}): {e}")
                continue
            for loaded in sorted(set(sys.modules) - before):
                path = getattr(sys.modules[loaded], "__file__", None)
                if path:
                    print(f"{path}\tpython module {loaded} (import {name}, {script})")
PY
) || problems+=("/usr/bin/python3 failed to list the stand-ins' modules")
while IFS=$'\t' read -r path what; do
  if [[ $path == MISSING ]]; then problems+=("$what"); else items+=("$path"$'\t'"$what"); fi
done <<<"$python"

# Programs the Makefile, deploy/dev/*.sh, the tests and the stand-ins run
# (python3 is checked above), as found on Debian's own PATH.
tools=(make cmake ctest "$cxx" pkg-config ccache node npm npx openssl psql curl runuser od chromium systemd-analyze cpack dpkg-deb dpkg-shlibdeps
  "$PGBIN/initdb" "$PGBIN/pg_ctl" "$PGBIN/createdb" "$PGBIN/psql" "$PGBIN/pgbench")
for t in "${tools[@]}"; do
  if path=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$t"); then items+=("$path"$'\t'"program $t")
  else problems+=("program $t: not installed from a Debian package"); fi
done

# Owning packages, one dpkg -S for all; then one for what it does not know by
# that name: symlinks (alternatives) by their target, /usr/bin/x as /bin/x.
declare -A owner=()
owners() {
  local line
  while IFS= read -r line; do
    [[ $line == diversion* ]] && continue
    owner[${line##*: }]=${line%: *}
  done < <(dpkg -S "$@" 2>/dev/null)
}
aliases() { realpath "$1"; [[ $1 == /usr/* ]] && echo "${1#/usr}" || echo "/usr$1"; }
paths=()
for item in "${items[@]}"; do paths+=("${item%%$'\t'*}"); done
owners "${paths[@]}"
unowned=()
for p in "${paths[@]}"; do [[ -n ${owner[$p]:-} ]] || mapfile -t -O ${#unowned[@]} unowned < <(aliases "$p"); done
((${#unowned[@]} == 0)) || owners "${unowned[@]}"

declare -A missing=() count=()
for item in "${items[@]}"; do
  path=${item%%$'\t'*} what=${item#*$'\t'}
  pkgs=${owner[$path]:-}
  if [[ -z $pkgs ]]; then
    while read -r a; do pkgs=${pkgs:-${owner[$a]:-}}; done < <(aliases "$path")
  fi
  if [[ -z $pkgs ]]; then
    problems+=("$what: $path belongs to no Debian package")
    continue
  fi
  ok=
  IFS=', ' read -r -a names <<<"$pkgs"
  for n in "${names[@]}"; do [[ -n ${covered[${n%%:*}]:-} ]] && ok=1; done
  [[ -n $ok ]] && continue
  pkgs=${pkgs//:+([a-z0-9])/}
  count[$pkgs]=$((${count[$pkgs]:-0} + 1))
  ((count[$pkgs] > 3)) || missing[$pkgs]+=$'\n'"    $what: $path"
done

while read -r pkg; do
  [[ -n $pkg ]] || continue
  more=$((count[$pkg] - 3))
  ((more > 0)) && missing[$pkg]+=$'\n'"    and $more more"
  problems+=("$pkg, which $install_deps does not install, provides:${missing[$pkg]}")
done < <(printf '%s\n' "${!missing[@]}" | sort)
if ((${#problems[@]})); then
  printf '%s\n' "${problems[@]}" >&2
  echo "FAIL: ${#problems[@]} problem(s) above" >&2
  exit 1
fi
echo "ok: ${#items[@]} headers, Python modules and programs, all from packages $install_deps installs"
