#!/usr/bin/env bash
# The runtime stage of docker/Dockerfile installs exactly the Debian packages that ship the
# shared libraries the binary links (its NEEDED entries, found with ldd and dpkg -S), plus the
# few non-library packages it names, and no -dev package. Without a Docker engine this is what
# keeps the image's list in step with the binary when a library is added or dropped.
#
#   tests/docker/runtime_packages_test.sh build/bin/labbook docker/Dockerfile
set -euo pipefail

if [[ $# -ne 2 || ! -x $1 || ! -f $2 ]]; then
  echo "usage: $0 PATH/TO/labbook PATH/TO/Dockerfile" >&2
  exit 2
fi
binary=$1
dockerfile=$2
# The packages of the runtime stage that are not libraries the binary links.
others=(fonts-dejavu-core ca-certificates dataset-fashion-mnist tini)

# The words after `apt-get install` in the last stage, up to the next `&&`, options left out.
mapfile -t listed < <(
  awk '/^FROM /{stage = ""} {stage = stage $0 "\n"} END {printf "%s", stage}' "$dockerfile" |
    sed -e ':a' -e '/\\$/N; s/\\\n//; ta' |
    grep -m 1 'apt-get install' |
    sed -e 's/.*apt-get install//' -e 's/&&.*//' |
    tr -s ' \t' '\n' | grep -v -e '^-' -e '^$' | sort -u
)
if ((${#listed[@]} == 0)); then
  echo "FAIL: $dockerfile: no 'apt-get install' in the last stage" >&2
  exit 1
fi

# The package that ships each NEEDED library, by the path the dynamic loader resolves it to.
# dpkg knows a file by the path its package installs, /lib/... or /usr/lib/... (merged /usr).
owner() {
  local path candidate
  path=$1
  for candidate in "$path" "$(readlink -f "$path")" "/usr$path" "${path#/usr}"; do
    if dpkg -S "$candidate" 2>/dev/null | head -n 1 | cut -d: -f1; then return 0; fi
  done
  return 1
}
failures=0
needed_packages=()
ldd_output="$(ldd "$binary")"
while read -r soname; do
  # "libz.so.1 => /lib/.../libz.so.1 (0x...)"; the loader: "/lib64/ld-linux-x86-64.so.2 (0x...)"
  path="$(awk -v so="$soname" '
    $1 == so && $2 == "=>" {print $3}
    index($1, "/") == 1 && substr($1, length($1) - length(so)) == "/" so {print $1}' \
    <<<"$ldd_output" | head -n 1)"
  if [[ -z $path || ! -e $path ]]; then
    echo "FAIL: $binary needs $soname, which ldd does not find" >&2
    failures=$((failures + 1))
    continue
  fi
  if ! package="$(owner "$path")" || [[ -z $package ]]; then
    echo "FAIL: $soname ($path) belongs to no Debian package" >&2
    failures=$((failures + 1))
    continue
  fi
  needed_packages+=("$package")
  if [[ " ${listed[*]} " != *" $package "* ]]; then
    echo "FAIL: $binary needs $soname, from the package $package, which $dockerfile's runtime" \
      "stage does not install" >&2
    failures=$((failures + 1))
  else
    echo "ok: $soname from $package"
  fi
done < <(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')

for package in "${listed[@]}"; do
  if [[ $package == *-dev ]]; then
    echo "FAIL: $dockerfile's runtime stage installs the development package $package" >&2
    failures=$((failures + 1))
  elif [[ " ${needed_packages[*]} ${others[*]} " != *" $package "* ]]; then
    echo "FAIL: $dockerfile's runtime stage installs $package, which ships no library" \
      "$binary needs (and is not one of: ${others[*]})" >&2
    failures=$((failures + 1))
  fi
done

if ((failures)); then
  echo "$failures problem(s) with the runtime packages of $dockerfile" >&2
  exit 1
fi
echo "ok: the runtime stage installs the packages of the ${#needed_packages[@]} libraries" \
  "and ${others[*]}, nothing else"
