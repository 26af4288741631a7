#!/bin/sh
# The labbook image's entrypoint: logs in to the team server the environment names, then runs
# the command it was given (`docker run IMAGE COMMAND...`) in its place, so that the command's
# exit status is the container's.
#
#   LABBOOK_API_KEY, else WANDB_API_KEY      the API key
#   LABBOOK_BASE_URL, else WANDB_BASE_URL    the server, http(s)://host[:port]
#
# The key reaches `labbook login` on standard input, never on a command line (`ps` shows those
# to everyone), and is never printed. A key the server refuses stops the container before the
# command starts; a server that cannot be reached does not, since labbook spools runs offline
# and uploads them when it is back. Without a key or a server the command runs against the local
# store of the working directory. Messages go to stderr, so the command's stdout stays its own.
set -eu

note() {
  printf 'labbook-entrypoint: %s\n' "$*" >&2
}

if [ "$#" -eq 0 ]; then
  set -- labbook --help
fi

key="${LABBOOK_API_KEY:-${WANDB_API_KEY:-}}"
server="${LABBOOK_BASE_URL:-${WANDB_BASE_URL:-}}"

# labbook itself takes the server from LABBOOK_BASE_URL only.
if [ -n "$server" ]; then
  LABBOOK_BASE_URL="$server"
  export LABBOOK_BASE_URL
fi
# Messages name the server, unless its URL holds an '@': user:key@host would show a key.
case "$server" in
  *@*) shown="the server of LABBOOK_BASE_URL (not shown: it holds an '@')" ;;
  *) shown="$server" ;;
esac

# labbook also reads ./.env, which may name a server or hold a key: the notes leave room for it.
if [ -z "$server" ] && [ -z "$key" ]; then
  note "no LABBOOK_BASE_URL or LABBOOK_API_KEY in the environment: runs go to the local store" \
    "in $(pwd)/.labbook (unless ./.env names a server)"
elif [ -z "$server" ]; then
  note "an API key but no LABBOOK_BASE_URL in the environment: not logging in; runs go to the" \
    "local store (unless ./.env names a server)"
elif [ -z "$key" ]; then
  note "no LABBOOK_API_KEY or WANDB_API_KEY in the environment: not logging in to $shown;" \
    "labbook looks in ./.env, else works anonymously"
else
  # `labbook login` writes the key under $XDG_CONFIG_HOME, else $HOME/.config. A uid without an
  # account (docker run --user) has HOME=/, which it cannot write: give it a directory of its own.
  if [ -z "${XDG_CONFIG_HOME:-}" ] && ! [ -w "${HOME:-/}" ]; then
    XDG_CONFIG_HOME="$(mktemp -d)"
    export XDG_CONFIG_HOME
  fi
  # printf is a shell builtin, and login takes the server from LABBOOK_BASE_URL: neither the key
  # nor the URL (which might hold one) is on any process's command line.
  status=0
  printf '%s\n' "$key" | labbook login --key-stdin >&2 || status=$?
  case "$status" in
    0) ;;
    10) note "cannot reach $shown now; running the command anyway (runs spool offline)" ;;
    *)
      note "logging in to $shown failed (exit $status); the command was not run"
      exit "$status"
      ;;
  esac
fi

exec "$@"
