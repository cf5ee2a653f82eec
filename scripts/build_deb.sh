#!/usr/bin/env bash
# Builds dist/caseguard-agent_<version>_<arch>.deb with dpkg-deb (no debhelper, a few seconds):
#   /opt/caseguard-agent/lib   the agent from this tree's wheel (not the collector), and the
#                              agent's own dependencies copied from the build interpreter's
#                              site-packages (installed distributions, by their RECORD), byte-compiled
#   /usr/bin/caseguard-agent   a launcher: Debian's python3, isolated (-I), no .pyc writes (-B)
#   deploy/linux/agent/        the units, user unit, presets, sysusers entry and XDG autostart entry
# Maintainer scripts create the system user (systemd-sysusers) and /etc/caseguard (root:caseguard-agent
# 1775, as the unit expects), reload systemd where it runs, and remove /etc/caseguard again if empty.
# Usage: scripts/build_deb.sh [OUTPUT_DIR]   (PYTHON=... picks the build interpreter; default .venv/bin/python)
# The build interpreter must be Debian's python3 minor version (binary wheels such as grpcio are per version).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(realpath -s "${PYTHON:-.venv/bin/python}")
OUT=$(realpath -m "${1:-dist}")
# The agent's runtime dependencies (pyproject.toml lists the collector's too); their own requirements follow.
AGENT_DISTS=(grpcio protobuf psutil watchdog pynput cryptography defusedxml pypdf pypdfium2 pytesseract Pillow olefile xlrd msoffcrypto-tool regipy)

for tool in dpkg-deb git; do
  command -v "$tool" >/dev/null || { echo "build_deb: $tool is missing (apt-get install dpkg git)" >&2; exit 1; }
done
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/src" "$stage/wheel" "$OUT"

# 1. The wheel, built from the tracked files only (what a fresh clone holds).
git ls-files -z | xargs -0 cp --parents -t "$stage/src"
(cd "$stage/src" && "$PY" -c "from setuptools import build_meta as b; b.build_wheel('$stage/wheel')" \
  >"$stage/wheel.log" 2>&1) || { cat "$stage/wheel.log" >&2; exit 1; }
wheel=$(ls "$stage"/wheel/*.whl)

root="$stage/root"
lib="$root/opt/caseguard-agent/lib"
mkdir -p "$lib" "$root/usr/bin" "$root/DEBIAN"
"$PY" -m pip install --quiet --no-deps --no-index --no-compile --target "$lib" "$wheel"
rm -rf "$lib/collector" "$lib/bin"  # the collector is packaged separately; no console scripts here

# 2. The agent's dependencies, copied from where the build interpreter has them installed.
"$PY" - "$lib" "${AGENT_DISTS[@]}" <<'PYEOF'
import shutil, sys
from importlib import metadata
from pathlib import Path
from packaging.requirements import Requirement

target, wanted = Path(sys.argv[1]), list(sys.argv[2:])
seen: set[str] = set()
while wanted:
    name = wanted.pop()
    key = name.lower().replace("_", "-")
    if key in seen:
        continue
    seen.add(key)
    dist = metadata.distribution(name)
    for req in dist.requires or ():
        r = Requirement(req)
        if r.marker is None or r.marker.evaluate({"extra": ""}):
            wanted.append(r.name)
    for file in dist.files or ():
        if file.parts[0] in ("..", "bin") or "__pycache__" in file.parts:
            continue
        src = Path(dist.locate_file(file))
        if src.is_file():
            dest = target / file
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
print("build_deb: bundled", ", ".join(sorted(seen)))
PYEOF
# olefile still ships olefile2.py, its Python 2 edition, which nothing imports and Python 3 cannot compile.
"$PY" -m compileall -q -j 0 -x 'olefile/olefile2\.py$' "$lib" >/dev/null

# 3. Units, presets, sysusers, autostart entry, launcher.
cp -a deploy/linux/agent/. "$root/"
cat >"$root/usr/bin/caseguard-agent" <<'SH'
#!/bin/sh
# Caseguard agent, as installed by the caseguard-agent package (code in /opt/caseguard-agent/lib).
exec /usr/bin/python3 -I -B -c 'import sys; sys.path.insert(0, "/opt/caseguard-agent/lib"); from agent.cli import main; sys.exit(main())' "$@"
SH
chmod 0755 "$root/usr/bin/caseguard-agent"

version=$("$PY" -c "import sys; sys.path.insert(0, 'protos'); import caseguard; print(caseguard.__version__)")
arch=$(dpkg --print-architecture)
pyminor=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
next_minor=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1] + 1}")')
size=$(du -sk "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: caseguard-agent
Version: $version
Architecture: $arch
Maintainer: Caseguard <caseguard@invalid>
Installed-Size: $size
Depends: python3 (>= $pyminor), python3 (<< $next_minor), systemd, util-linux
Section: admin
Priority: optional
Description: Caseguard endpoint agent for children's social-care laptops
 Auto-lock, lock and disk-encryption posture, and detection of case files copied to
 removable media or personal cloud folders, reported to the organisation's collector.
CONTROL
cat >"$root/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    systemd-sysusers caseguard-agent.conf
    install -d -m 1775 -o root -g caseguard-agent /etc/caseguard
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        systemctl preset caseguard-agent.service
        systemctl --global preset caseguard-agent-session.service || true
    fi
fi
SH
cat >"$root/DEBIAN/prerm" <<'SH'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl stop caseguard-agent.service || true
fi
SH
cat >"$root/DEBIAN/postrm" <<'SH'
#!/bin/sh
set -e
if [ "$1" = remove ] || [ "$1" = purge ]; then
    # Only the empty directory: enrolment keys and agent.toml stay until IT removes them.
    rmdir --ignore-fail-on-non-empty /etc/caseguard 2>/dev/null || true
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload || true
    fi
fi
SH
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

deb="$OUT/caseguard-agent_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zgzip -z1 --build "$root" "$deb" >/dev/null
echo "$deb"
