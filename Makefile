# mmamt: `make demo` and `make test` set up .venv first when needed (see tools/install.sh).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install demo test clean-venv

install:
	@PYTHON=$(PYTHON) VENV=$(VENV) bash tools/install.sh

demo: install
	@$(PY) tools/demo.py

test: install
	@$(PY) -m pytest tests -q -p no:cacheprovider

clean-venv:
	rm -rf $(VENV)
