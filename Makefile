# gridfield developer entry points. On a fresh clone: `make run` or `make test`.
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Every dependency (app, dev and build tools) pinned with its hashes, for Linux and
# Windows at once (`make lock` regenerates it from pyproject.toml).
LOCK  := requirements.lock

# Extra arguments for pytest, e.g. `make test PYTEST_ARGS='-k vault -x'`.
PYTEST_ARGS ?=

.PHONY: setup sysdeps run test bench lint lock dist dist-test

# System packages (no-op when all are installed), the venv with the project and
# its dev extras, and the compiled translations.
setup: sysdeps $(STAMP)
	@$(PY) scripts/i18n.py compile

sysdeps:
	@bash scripts/install-sysdeps.sh

# Re-installs only when pyproject.toml or the lock is newer than the stamp (or no venv
# yet). Order-only on sysdeps: Debian's python3 needs python3-venv to create the venv.
# The dependencies come from the lock alone, each checked against its hash; the project
# itself goes on top without resolving anything (--no-deps).
$(STAMP): pyproject.toml $(LOCK) | sysdeps
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --require-hashes -r $(LOCK)
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Regenerate the lock after a change to pyproject.toml's dependencies, keeping the
# other pins; `make lock UPGRADE=1` moves every pin to the newest release in range.
# tests/test_lock.py fails while pyproject.toml and the lock disagree.
lock: | $(STAMP)
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --extra build --universal \
		--generate-hashes --python-version 3.11 --quiet $(if $(UPGRADE),--upgrade) -o $(LOCK)

# The release: the PyInstaller bundle packed as dist/gridfield-<V>-<platform>.tar.gz
# (scripts/build_dist.py). VERSION defaults to fieldclient.__version__ and is baked into
# the built app: `make dist VERSION=1.0.1` builds a bundle that reports 1.0.1.
VERSION ?= $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' fieldclient/__init__.py)

dist: setup
	$(PY) scripts/build_dist.py --version $(VERSION)

# CI: the built bundle's smoke tests and the install/update/roll-back tests on it.
dist-test: dist
	bash scripts/dist-test.sh $(VERSION)

run: setup
	@if [ -f scripts/run_demo.py ]; then \
		$(PY) scripts/run_demo.py --as $(or $(AS),leader); \
	else \
		$(PY) main.py --data-dir .demo-data/device; \
	fi

test: setup
	bash scripts/run-tests.sh $(PYTEST_ARGS)

# Each bench/*.py prints one JSON object on stdout; headers/errors go to stderr.
bench: setup
	@status=0; found=0; \
	for f in bench/*.py; do \
		[ -e "$$f" ] || continue; \
		found=1; \
		echo "== $$f" >&2; \
		QT_QPA_PLATFORM=offscreen $(PY) "$$f" || { echo "bench: FAILED: $$f (exit $$?)" >&2; status=1; }; \
	done; \
	[ $$found -eq 1 ] || echo "bench: no bench/*.py found" >&2; \
	exit $$status

lint: setup
	@status=0; \
	$(VENV)/bin/ruff check . || status=1; \
	$(VENV)/bin/mypy || status=1; \
	exit $$status
