#!/usr/bin/env bash
# Installs the SDK package (component "sdk") from a build tree into a temporary prefix, builds
# examples/log_run against it as a user project would (find_package(labbook) and nothing from the
# build tree), runs it with LABBOOK_STORE in the temporary directory, and checks what it recorded.
#
#   install_test.sh BUILD_DIR SOURCE_DIR GENERATOR CHECKER [CXX_FLAGS]
set -euo pipefail
build=$1
source=$2
generator=$3
checker=$4
cxx_flags=${5:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/labbook-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" --component sdk

# Only the public API is exported: functions of namespace labbook, none of its internals.
library=$(find "$work/prefix" -name 'liblabbook.so' | head -n 1)
exported=$(nm -DC --defined-only "$library" | awk '$2 == "T" { $1 = ""; $2 = ""; print }')
internal=$(grep -v '^  labbook::' <<<"$exported" || true)
internal+=$(grep -E '^  labbook::(track::|Run::Impl::)' <<<"$exported" || true)
if [[ -z "$exported" || -n "$internal" ]]; then
  echo "install_test: $library exports internal functions (or none at all):" >&2
  echo "$internal" >&2
  exit 1
fi
cmake -S "$source/examples/log_run" -B "$work/build" -G "$generator" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_CXX_FLAGS="$cxx_flags"
cmake --build "$work/build"

# The program must run on the installed library, not on one in the build tree.
libraries=$(ldd "$work/build/log_run")
if ! grep -q "$work/prefix/.*liblabbook\.so" <<<"$libraries"; then
  echo "install_test: log_run does not load liblabbook.so from $work/prefix:" >&2
  echo "$libraries" >&2
  exit 1
fi

output=$(cd "$work" && LABBOOK_STORE="$work/runs.db" "$work/build/log_run")
echo "$output"
run_id=$(sed -n 's/^run \([0-9a-z]\{8\}\) recorded in .*/\1/p' <<<"$output")
if [[ -z "$run_id" ]]; then
  echo "install_test: log_run printed no run id" >&2
  exit 1
fi
"$checker" "$work/runs.db" "$run_id"
