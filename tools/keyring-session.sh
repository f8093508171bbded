#!/usr/bin/env bash
# Run a command inside a private D-Bus session with an unlocked gnome-keyring (the real
# Secret Service) and a fresh, throw-away HOME. Used by `make test`.
set -euo pipefail
export UMA_CACHE="${UMA_CACHE:-$HOME/.cache/uma-desktop}"
fresh_home=$(mktemp -d -t uma-home.XXXXXX)
mkdir -p "$fresh_home/run" && chmod 700 "$fresh_home/run"
cleanup() { rm -rf "$fresh_home"; }
trap cleanup EXIT
status=0
env HOME="$fresh_home" XDG_DATA_HOME="$fresh_home/.local/share" \
    XDG_CONFIG_HOME="$fresh_home/.config" XDG_CACHE_HOME="$fresh_home/.cache" \
    XDG_RUNTIME_DIR="$fresh_home/run" \
    dbus-run-session -- bash -c '
        printf "uma-test-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
        exec "$@"' keyring-session "$@" || status=$?
exit $status
