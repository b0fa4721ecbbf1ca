# Chronik build targets.
#   make dist          one-file dist/chronik.pex (installs pex into .build-venv/ itself)
#   make completions   regenerate completions/ from the Typer app
#   make install-completions [PREFIX=~/.local]

PYTHON ?= $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV)/bin/python,python3)
# The pex carries C extensions (crc32c, lz4, zstandard, cramjam, pydantic-core,
# pyyaml) built per Python version, so it is resolved once for every CPython
# 3.11+ found here; the shebang picks whatever python3 the target machine has.
# (pyenv shims of versions that are not active fail to run, so try pyenv's own
# install paths too.)
PEX_PYTHONS ?= $(shell for v in 3.11 3.12 3.13 3.14; do \
	for p in $$(command -v python$$v) $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$v*/bin/python$$v 2>/dev/null | tail -1); do \
	  if $$p -c 'import sys' >/dev/null 2>&1; then echo --python=$$p; break; fi; done; done)
PREFIX ?= $(HOME)/.local
# The build tools live in their own venv, made on first use: `make dist` works
# on a fresh clone with nothing but python3.
BUILD_VENV ?= .build-venv
BUILD_PY = $(BUILD_VENV)/bin/python

.PHONY: dist completions install-completions clean-dist

dist: dist/chronik.pex

$(BUILD_PY):
	python3 -m venv $(BUILD_VENV)
	$(BUILD_PY) -m pip install -q --upgrade pip
	$(BUILD_PY) -m pip install -q 'pex>=2.20' wheel setuptools

dist/chronik.pex: $(BUILD_PY) pyproject.toml $(shell find chronik -name '*.py' -o -name '*.json' -o -path '*/console/static/*')
	@mkdir -p dist
	@rm -rf build dist/wheels
	# Build our wheel once, in one process: letting pex build "." in-tree
	# races its parallel pip jobs over the same build/ directory.
	$(BUILD_PY) -m pip wheel --no-deps -q -w dist/wheels .
	$(BUILD_PY) -m pex dist/wheels/chronik-*.whl -o $@ -e chronik.cli:main \
		--pip-version 24.2 --venv prepend --sh-boot \
		--python-shebang '/usr/bin/env python3' \
		--interpreter-constraint '>=3.11' \
		$(if $(strip $(PEX_PYTHONS)),$(PEX_PYTHONS),--python=$(PYTHON))
	@$@ --version

completions:
	$(PYTHON) -m chronik.cli.completion completions

install-completions:
	install -D -m 644 completions/chronik.bash $(PREFIX)/share/bash-completion/completions/chronik
	install -D -m 644 completions/_chronik $(PREFIX)/share/zsh/site-functions/_chronik
	install -D -m 644 completions/chronik.fish $(PREFIX)/share/fish/vendor_completions.d/chronik.fish

clean-dist:
	rm -rf dist $(BUILD_VENV)
