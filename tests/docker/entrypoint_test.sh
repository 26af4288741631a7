#!/usr/bin/env bash
# docker/entrypoint.sh outside a container, against a real `labbook serve` on a free loopback
# port. Each case runs the entrypoint as `docker run --env-file` would: an empty environment but
# for PATH, HOME and the variables of a .env-like file. Checks that it logs in (a command that
# can only have the key from the stored login works), runs the command with the command's exit
# status, takes WANDB_API_KEY and WANDB_BASE_URL too, stops with a clear message on a wrong key,
# runs anyway without a key or a server, and that no key ever appears in any output or on any
# `labbook` command line.
#
#   tests/docker/entrypoint_test.sh build/bin/labbook
set -euo pipefail

if [[ $# -ne 1 || ! -x $1 ]]; then
  echo "usage: $0 PATH/TO/labbook" >&2
  exit 2
fi
labbook="$(readlink -f "$1")"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
entrypoint="$root/docker/entrypoint.sh"
dir="$(mktemp -d "${TMPDIR:-/tmp}/labbook-entrypoint-test.XXXXXX")"
server_pid=""

stop_server() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
cleanup() {
  stop_server
  rm -rf "$dir"
}
trap cleanup EXIT

failures=0
check() {
  local what=$1
  shift
  if "$@"; then
    echo "ok: $what"
  else
    echo "FAIL: $what"
    failures=$((failures + 1))
  fi
}

# The commands see this `labbook` first on PATH: it records its arguments, then is the real one.
mkdir -p "$dir/bin" "$dir/work"
cat >"$dir/bin/labbook" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>'$dir/argv.log'
exec '$labbook' "\$@"
EOF
chmod +x "$dir/bin/labbook"
: >"$dir/argv.log"
# What `docker run --env-file FILE` does before the entrypoint: FILE's variables, exported.
cat >"$dir/with-env" <<'EOF'
#!/bin/sh
set -a
. "$1"
set +a
shift
exec "$@"
EOF
chmod +x "$dir/with-env"

# The server: the admin's key is the first line of stdout, the address is in the log on stderr.
timeout 300 "$labbook" serve --port 0 --init-admin --data "$dir/server" \
  >"$dir/serve.out" 2>"$dir/serve.err" &
server_pid=$!
key=""
base=""
for _ in $(seq 200); do
  key="$(head -n 1 "$dir/serve.out")"
  base="$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$dir/serve.err" | head -n 1 || true)"
  base="${base#listening on }"
  if [[ $key == lb-* && -n $base ]]; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [[ $key != lb-* || -z $base ]]; then
  echo "FAIL: labbook serve did not start in 20 s:" >&2
  cat "$dir/serve.err" >&2
  exit 1
fi
# Well-formed, so that the server (not the client) is what refuses it.
wrong_key="lb-0000000000111111111122222222223333333333"

# run NAME [VAR=VALUE...] -- COMMAND...: the entrypoint with only PATH, HOME (its own, empty)
# and the variables, read from a file as `docker run --env-file` does, so that no key is on this
# script's command lines either. Leaves NAME.out, NAME.err and NAME.rc in $dir.
run() {
  local name=$1
  shift
  : >"$dir/$name.env"
  while [[ $1 != -- ]]; do
    printf '%s\n' "$1" >>"$dir/$name.env"
    shift
  done
  shift
  mkdir -p "$dir/home-$name"
  local logged rc=0
  logged=$(wc -l <"$dir/argv.log")
  timeout 60 env -i -C "$dir/work" PATH="$dir/bin:/usr/bin:/bin" HOME="$dir/home-$name" \
    "$dir/with-env" "$dir/$name.env" "$entrypoint" "$@" \
    </dev/null >"$dir/$name.out" 2>"$dir/$name.err" || rc=$?
  echo "$rc" >"$dir/$name.rc"
  tail -n +$((logged + 1)) "$dir/argv.log" >"$dir/$name.argv"
  names+=("$name")
}
names=()
rc_is() { [[ $(cat "$dir/$1.rc") == "$2" ]]; }
out_has() { grep -qF -- "$2" "$dir/$1.out"; }
out_lacks() { ! grep -qF -- "$2" "$dir/$1.out"; }
err_has() { grep -qF -- "$2" "$dir/$1.err"; }
err_lines() { [[ $(wc -l <"$dir/$1.err") -eq $2 ]]; }
argv_lacks() { ! grep -q -- "$2" "$dir/$1.argv"; }
mode_is() { [[ -f $1 && $(stat -c %a "$1") == "$2" ]]; }
file_is() { [[ $(cat "$1") == "$2" ]]; }
# none_holds FILE... -- TEXT...: no FILE holds any TEXT.
none_holds() {
  local files=()
  while [[ $1 != -- ]]; do
    files+=("$1")
    shift
  done
  shift
  local text
  for text in "$@"; do
    if grep -lF -- "$text" "${files[@]}"; then return 1; fi
  done
}
# A case's output, for a failure's report, with the keys masked.
show() {
  printf -- '--- %s: exit %s\n' "$1" "$(cat "$dir/$1.rc")"
  cat "$dir/$1.argv" "$dir/$1.out" "$dir/$1.err" | sed -e "s/$key/<key>/g" -e "s/$wrong_key/<key>/g"
}

# `keys list` needs a key; with the key taken out of its environment it can only be the one
# `labbook login` stored.
stored_only='env -u LABBOOK_API_KEY -u WANDB_API_KEY labbook keys list'

run login "LABBOOK_API_KEY=$key" "LABBOOK_BASE_URL=$base" -- sh -c "$stored_only"
check "LABBOOK_API_KEY: logs in and the command uses the stored key" rc_is login 0
check "the command's output is on stdout" out_has login init-admin
check "the login is reported on stderr" err_has login "logged in to $base as admin"
check "stdout holds only the command's output" out_lacks login "logged in"
credentials="$dir/home-login/.config/labbook/credentials"
check "the credentials file is written with mode 0600" mode_is "$credentials" 600

run direct "LABBOOK_API_KEY=$key" "LABBOOK_BASE_URL=$base" -- labbook keys list
check "a command that needs the key works" rc_is direct 0
check "... and prints its output" out_has direct init-admin

run status "LABBOOK_API_KEY=$key" "LABBOOK_BASE_URL=$base" -- sh -c 'exit 7'
check "the command's exit status is the entrypoint's" rc_is status 7

run wandb_key "WANDB_API_KEY=$key" "LABBOOK_BASE_URL=$base" -- sh -c "$stored_only"
check "WANDB_API_KEY in place of LABBOOK_API_KEY" rc_is wandb_key 0
check "... logs in" err_has wandb_key "logged in to $base as admin"

run wandb_both "WANDB_API_KEY=$key" "WANDB_BASE_URL=$base" -- sh -c "$stored_only"
check "WANDB_BASE_URL in place of LABBOOK_BASE_URL (the command sees the server)" \
  rc_is wandb_both 0
check "... and its output" out_has wandb_both init-admin

run wrong "LABBOOK_API_KEY=$wrong_key" "LABBOOK_BASE_URL=$base" -- sh -c 'echo command ran'
check "a wrong key: exit 6 (no or a wrong API key)" rc_is wrong 6
check "... says the server refused the key" err_has wrong "does not accept this key"
check "... and that the command was not run" err_has wrong "the command was not run"
check "... which it was not" out_lacks wrong "command ran"

# A key inside the URL: labbook refuses such a URL, and neither it nor the entrypoint repeats it.
run url_key "LABBOOK_API_KEY=$key" "LABBOOK_BASE_URL=http://admin:$key@${base#http://}" -- \
  sh -c 'echo command ran'
check "a URL holding credentials: refused (exit 2)" rc_is url_key 2
check "... and the command not run" out_lacks url_key "command ran"

run local -- sh -c 'echo command ran'
check "no key and no server: the command runs" rc_is local 0
check "... and prints" out_has local "command ran"
check "... after a line on stderr about the local store" err_has local "local store"
check "... one line only" err_lines local 1

run no_server "LABBOOK_API_KEY=$key" -- sh -c 'echo command ran'
check "a key but no server: the command runs" rc_is no_server 0
check "... with one line about not logging in" err_lines no_server 1
check "... and no login" argv_lacks no_server "^login"

run no_key "LABBOOK_BASE_URL=$base" -- sh -c 'echo command ran'
check "a server but no key: the command runs" rc_is no_key 0
check "... with one line about it" err_lines no_key 1

# As `docker run --user` with a uid of no account: HOME is a directory it cannot write (here one
# that does not exist, since root may write anywhere).
mkdir -p "$dir/tmp"
run no_home "LABBOOK_API_KEY=$key" "LABBOOK_BASE_URL=$base" "HOME=$dir/no-such-home" \
  "TMPDIR=$dir/tmp" -- sh -c "$stored_only"
check "an unwritable HOME: logs in all the same" rc_is no_home 0
check "... and stores the key in a directory of its own" \
  mode_is "$(find "$dir/tmp" -path '*/labbook/credentials' | head -n 1)" 600

run default "LABBOOK_API_KEY=$key" "LABBOOK_BASE_URL=$base" --
check "no command: labbook --help" rc_is default 0
check "... prints the usage" out_has default "Usage: labbook"

# exec: every layer (sh -c, env, the entrypoint) replaces itself, so the command keeps the pid.
printf 'LABBOOK_API_KEY=%s\nLABBOOK_BASE_URL=%s\n' "$key" "$base" >"$dir/pid.env"
env -i -C "$dir/work" PATH="$dir/bin:/usr/bin:/bin" HOME="$dir/home-login" \
  "$dir/with-env" "$dir/pid.env" "$entrypoint" sh -c 'echo "$$"' \
  </dev/null >"$dir/pid.out" 2>"$dir/pid.err" &
pid=$!
wait "$pid" || true
check "the entrypoint execs the command (same process)" file_is "$dir/pid.out" "$pid"

# A server that cannot be reached: this one, stopped.
stop_server
run unreachable "LABBOOK_API_KEY=$key" "LABBOOK_BASE_URL=$base" -- sh -c 'echo command ran'
check "the server cannot be reached: the command runs anyway" rc_is unreachable 0
check "... and prints" out_has unreachable "command ran"
check "... after saying so" err_has unreachable "cannot reach $base"

check "labbook login was given the key on stdin (--key-stdin)" \
  grep -qxF -- "login --key-stdin" "$dir/login.argv"
files=("$dir/argv.log" "$dir/pid.out" "$dir/pid.err")
for name in "${names[@]}"; do files+=("$dir/$name.out" "$dir/$name.err"); done
check "neither key is in any output or on any labbook command line" \
  none_holds "${files[@]}" -- "$key" "$wrong_key"

if ((failures)); then
  for name in "${names[@]}"; do show "$name"; done
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
