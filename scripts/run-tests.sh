#!/usr/bin/env bash
# Run ruff, mypy and pytest (all of them, even if one fails); non-zero if any
# step fails. Arguments are passed to pytest. Expects .venv (see `make setup`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export QT_QPA_PLATFORM=offscreen

failed=()
passed=()

step() {
    local name=$1 rc=0
    shift
    echo "==> $name: $*"
    "$@" || rc=$?
    if [ "$rc" -eq 5 ] && [ "$name" = pytest ]; then
        echo "run-tests: pytest collected no tests" >&2
        failed+=("pytest (no tests collected)")
    elif [ "$rc" -ne 0 ]; then
        failed+=("$name (exit $rc)")
    else
        passed+=("$name")
    fi
}

step ruff .venv/bin/ruff check .
step mypy .venv/bin/mypy
step pytest .venv/bin/python -m pytest -q -p no:cacheprovider "$@"

if [ "${#failed[@]}" -eq 0 ]; then
    echo "run-tests: OK (${passed[*]})"
else
    summary="run-tests: FAILED: ${failed[0]}"
    for f in "${failed[@]:1}"; do summary+="; $f"; done
    if [ "${#passed[@]}" -gt 0 ]; then summary+=" (passed: ${passed[*]})"; fi
    echo "$summary" >&2
    exit 1
fi
