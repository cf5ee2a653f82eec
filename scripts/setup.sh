#!/usr/bin/env bash
# Sets up everything Caseguard needs on a fresh Debian (12+) machine: Debian packages,
# a virtual environment in .venv and the project installed into it (editable, with dev tools).
# Safe to run again. Used by scripts/test.sh and scripts/demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Debian packages:
#  python3 python3-venv python3-dev gcc  - the interpreter, venv, and headers for any wheel that must build
#  xvfb xdotool i3lock x11-utils         - real X input idleness and a real screen locker for lock tests
#  libglib2.0-bin gsettings-desktop-schemas dbus-x11 libnotify-bin - real gsettings, D-Bus and notifications
#  dbus-daemon dunst                     - a private session bus and a real notification daemon, which shows
#                                           (and records) the notices the session component sends
#  e2fsprogs util-linux mount             - ext4 images loop-mounted under /media for removable-media tests
#  postgresql                             - a real PostgreSQL server; the tests start throwaway clusters with it
#  chromium fonts-dejavu-core             - the console's browser tests drive Debian's Chromium (no browser download)
#  systemd python3-seccomp                - systemd-analyze verify checks the units in deploy/; the
#                                           test runs the programs under the units' own syscall filter
#  tesseract-ocr tesseract-ocr-eng        - the agent's OCR of scans and photos (the tests run the real one;
#                                           their scanned pages are drawn with Pillow in fonts-dejavu-core)
#  libreoffice-{writer,calc,impress}-nogui - real LibreOffice writes the .doc/.xls/.ppt/.pdf copies of a
#                                           synthetic case file that the legacy-Office classifier tests read
DEBIAN_PACKAGES=(
  python3 python3-venv python3-dev gcc git
  xvfb xdotool i3lock x11-utils
  libglib2.0-bin gsettings-desktop-schemas dbus-x11 libnotify-bin dbus-daemon dunst
  e2fsprogs util-linux mount procps
  postgresql
  chromium fonts-dejavu-core systemd python3-seccomp
  tesseract-ocr tesseract-ocr-eng
  libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui
)
missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
"$PY" - <<'PYCHECK'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"setup: Python 3.11 or newer is needed (this is {sys.version.split()[0]})")
PYCHECK

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
echo "setup: ready (.venv/bin/caseguard-agent, .venv/bin/caseguard-collector)"
