#!/usr/bin/env bash
# After `make dist`: the built bundle's smoke tests (the app's --exit-after-startup under
# offscreen Qt, fieldclient init/status/checklist) and installing, updating and rolling
# back with the built launcher (tests/update/test_built_bundle.py, marker `bundle`).
# Argument: the version `make dist` built. Expects .venv (see `make setup`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

version=${1:?usage: scripts/dist-test.sh VERSION}
shopt -s nullglob
archives=(dist/gridfield-"$version"-*.tar.gz)
if [ "${#archives[@]}" -ne 1 ]; then
    echo "dist-test: expected one dist/gridfield-$version-<platform>.tar.gz (make dist), found ${#archives[@]}" >&2
    exit 1
fi
echo "==> dist-test: ${archives[0]} ($(du -h "${archives[0]}" | cut -f1))"
export QT_QPA_PLATFORM=offscreen
GRIDFIELD_DIST_ARCHIVE="$PWD/${archives[0]}" GRIDFIELD_DIST_VERSION="$version" .venv/bin/python -m pytest -q -p no:cacheprovider \
    -m bundle tests/update/test_built_bundle.py
