#!/usr/bin/env bash
# Install the Debian packages the app and its tests need (only what is missing).
# As root it runs apt-get; otherwise it prints the command to run and fails.
set -euo pipefail
packages=(
  # Qt's xcb/offscreen platforms
  libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libxcb-cursor0
  libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0
  fonts-dejavu-core
  # the real Secret Service in a private D-Bus session
  gnome-keyring dbus-x11 dbus
  # real browser for login tests, virtual display, metadata validation
  chromium xvfb xauth appstream desktop-file-utils
  # unpacking the Keycloak distribution
  unzip
  # building and checking the Debian package (make package, make package-test)
  lintian binutils man-db
  # rendering the exported PDF report in tests; checking the systemd timer units
  poppler-utils systemd
)
[ "${1:-}" = "--gui-only" ] && packages=("${packages[@]:0:13}")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Missing Debian packages: ${missing[*]}" >&2
  echo "Run: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
