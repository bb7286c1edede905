#!/usr/bin/env bash
# Install the Debian/Ubuntu packages gridfield and its tests need.
#
# Fast no-op when everything is already installed (no apt-get update).
# As root: installs what is missing. Not root: prints what is missing and the
# command to run, then exits 0 with a warning (so developers on a prepared
# machine are not blocked).
#
# The Qt list was checked with
#   ldd .venv/lib/python3.11/site-packages/PySide6/Qt/plugins/platforms/*.so \
#       .venv/lib/python3.11/site-packages/PySide6/Qt/lib/*.so*
# against a minimal Debian 12: nothing "not found" except optional SQL drivers
# (oracle/mysql/odbc/firebird/mimer), speechd and EglFsKmsGbm.
set -euo pipefail

PACKAGES=(
    # Creating .venv with Debian's python3 needs ensurepip.
    python3-venv
    # Qt runtime for PySide6 (xcb, wayland, EGL/GL, fonts, dbus).
    libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0
    libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
    libxcb-randr0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxcb-xfixes0
    libdbus-1-3 libfontconfig1
    libwayland-cursor0 libwayland-egl1 libwayland-client0
    libpulse0      # QtMultimedia
    libpcsclite1   # QtNfc
    # QtWebEngine (PySide6's wheels ship it; not pulled in by the above).
    libnss3 libnspr4 libasound2 libxtst6 libxkbfile1 libxcomposite1 libxdamage1
    libxrandr2 libgbm1
    # Chinese glyphs (the UI; central report --format pdf embeds Noto Sans CJK).
    fonts-noto-cjk
    # Headless X server for screenshots.
    xvfb xauth
    # A real Secret Service for the keyring tests (tests/secret_service.py).
    dbus gnome-keyring libsecret-tools
    # TPM 2.0 secret store: tpm2-pytss builds against the TSS (pkg-config finds it);
    # the tests run a software TPM (swtpm).
    libtss2-dev pkg-config build-essential python3-dev swtpm swtpm-tools
    # Central-server tests.
    postgresql
    # make dist: PyInstaller reads the bundled libraries with objdump (ldd is in libc-bin).
    binutils
)

is_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-sysdeps: WARNING: not a Debian/Ubuntu system (no dpkg-query);" \
         "install these packages yourself: ${PACKAGES[*]}" >&2
    exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    # Ubuntu 24.04+/Debian 13 renamed some libraries with a t64 suffix.
    if ! is_installed "$pkg" && ! is_installed "${pkg}t64"; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    {
        echo "install-sysdeps: WARNING: these system packages are missing:"
        echo "    ${missing[*]}"
        echo "install-sysdeps: as root, run:"
        echo "    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
        echo "install-sysdeps: (or run 'sudo scripts/install-sysdeps.sh'). Continuing without them."
    } >&2
    exit 0
fi

echo "install-sysdeps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update

has_candidate() {
    local cand
    cand="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')"
    [ -n "$cand" ] && [ "$cand" != "(none)" ]
}

# Pick the t64-renamed package where the plain name is only virtual.
to_install=()
for pkg in "${missing[@]}"; do
    if ! has_candidate "$pkg" && has_candidate "${pkg}t64"; then
        to_install+=("${pkg}t64")
    else
        to_install+=("$pkg")
    fi
done

# Installing postgresql (and dbus) tries to start the service. It is fine if it
# does not start (tests run their own instances), but the install must not fail
# because of it: if no policy-rc.d exists, forbid service starts for the
# duration of this install. An existing policy-rc.d (e.g. Docker's "exit 101")
# is left alone; invoke-rc.d then skips the start and returns success.
policy=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
    if [ "$created_policy" -eq 1 ]; then
        rm -f "$policy"
    fi
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, from gridfield scripts/install-sysdeps.sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
fi

apt-get install -y --no-install-recommends "${to_install[@]}"
echo "install-sysdeps: done."
