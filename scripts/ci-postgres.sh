#!/usr/bin/env bash
# A throwaway PostgreSQL on 127.0.0.1 for the run-ledger tests (tests/test_store.py).
#
#   scripts/ci-postgres.sh [start] [ENV_FILE]   start (or reuse) a cluster; write ENV_FILE
#   scripts/ci-postgres.sh stop [ENV_FILE]      stop it and delete its files
#
# ENV_FILE (default ${TMPDIR:-/tmp}/cpoc-ci-postgres.env) gets `export` lines to `source`:
# CPOC_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/cpoc_test (trust auth,
# no password) and CPOC_TEST_POSTGRES_DATA. The URL line is also printed on stdout.
# Installs Debian's `postgresql` package only when no server is found and we are root (CI).
# As root the cluster runs as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail

action=start
case "${1:-}" in start | stop) action=$1; shift ;; esac
env_file=${1:-${TMPDIR:-/tmp}/cpoc-ci-postgres.env}
# Only what ENV_FILE says counts, never values inherited from the caller.
unset CPOC_TEST_POSTGRES_DATA CPOC_TEST_POSTGRES_URL

log() { echo "ci-postgres: $*" >&2; }

find_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

as_owner() {  # run a command as the cluster's owner
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

stop_cluster() {
  [ -f "$env_file" ] || return 0
  # shellcheck disable=SC1090
  source "$env_file"
  local data=${CPOC_TEST_POSTGRES_DATA:-} bin
  case "$data" in */cpoc-pg.*) ;; *) data="" ;; esac  # only ever delete our own directory
  if [ -n "$data" ] && [ -d "$data" ]; then
    bin=$(find_bin) || true
    if [ -n "${bin:-}" ]; then
      as_owner "$bin/pg_ctl" -D "$data/pgdata" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf -- "$data"
  fi
  rm -f -- "$env_file"
}

reuse_running() {  # the cluster of an earlier start, if it still answers
  [ -f "$env_file" ] || return 1
  # shellcheck disable=SC1090
  source "$env_file"
  local data=${CPOC_TEST_POSTGRES_DATA:-} bin
  bin=$(find_bin) || return 1
  [ -n "$data" ] && [ -d "$data/pgdata" ] || return 1
  as_owner "$bin/pg_ctl" -D "$data/pgdata" status >/dev/null 2>&1 || return 1
  echo "CPOC_TEST_POSTGRES_URL=$CPOC_TEST_POSTGRES_URL"
}

install_server() {
  if [ "$(id -u)" != 0 ]; then
    log "no PostgreSQL server under /usr/lib/postgresql and not root: cannot install it"
    return 1
  fi
  log "installing PostgreSQL (apt-get install postgresql)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 &&
  apt-get install -y -qq postgresql >&2
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_cluster() {
  local bin data port url
  bin=$(find_bin) || { install_server && bin=$(find_bin); }
  data=$(mktemp -d "${TMPDIR:-/tmp}/cpoc-pg.XXXXXX")
  chmod 755 "$data"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$data"; fi
  # Written first, so `stop` cleans up even when a later step fails.
  printf 'export CPOC_TEST_POSTGRES_DATA=%q\n' "$data" >"$env_file"
  as_owner "$bin/initdb" -D "$data/pgdata" -U postgres --auth=trust -E UTF8 --no-locale --no-sync \
    >"$data/initdb.log" 2>&1 || { cat "$data/initdb.log" >&2; false; }
  port=$(free_port)
  as_owner "$bin/pg_ctl" -D "$data/pgdata" -l "$data/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$data -c fsync=off" \
    start >/dev/null || { cat "$data/server.log" >&2; false; }
  as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres cpoc_test
  url="postgresql+psycopg://postgres@127.0.0.1:$port/cpoc_test"
  printf 'export CPOC_TEST_POSTGRES_URL=%q\n' "$url" >>"$env_file"
  log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($data)"
  echo "CPOC_TEST_POSTGRES_URL=$url"
}

if [ "$action" = stop ]; then
  stop_cluster
  exit 0
fi
reuse_running && exit 0
stop_cluster
# start_cluster runs under `set -e` (not in a condition): any failed step ends the script here.
trap 'log "PostgreSQL could not be started"; stop_cluster' EXIT
start_cluster
trap - EXIT
