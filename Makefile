# mmamt: `make demo` and `make test` set up .venv first when needed (see tools/install.sh).
#   make install       pre-training environment: mmcv-lite, no compiler needed (a few minutes)
#   make install-full  + mmdet, mmseg, test requirements and mmcv built with its ops (cached)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install install-full demo test lint clean-venv

install:
	@MODE=lite PYTHON=$(PYTHON) VENV=$(VENV) bash tools/install.sh

install-full:
	@MODE=full PYTHON=$(PYTHON) VENV=$(VENV) bash tools/install.sh

# The demo's handwritten digits come with scikit-learn (requirements/benchmark.txt).
demo: install
	@$(PY) -c 'import sklearn' 2>/dev/null || $(PY) -m pip install --quiet -r requirements/benchmark.txt
	@$(PY) tools/demo.py

# OpenMMLab's lint set with the settings in setup.cfg (also .pre-commit-config.yaml).
LINT_PATHS := mmamt tools tests configs setup.py

lint: install-full
	@$(PY) -m flake8 $(LINT_PATHS)
	@$(PY) -m isort --check-only --quiet $(LINT_PATHS)
	@$(PY) -m yapf --diff --recursive $(LINT_PATHS) > /dev/null || \
		{ $(PY) -m yapf --diff --recursive $(LINT_PATHS); echo 'yapf: run .venv/bin/yapf -i -r $(LINT_PATHS)'; exit 1; }
	@echo 'lint: flake8, isort and yapf clean'

test: lint
	@$(PY) -m pytest tests -q -p no:cacheprovider

clean-venv:
	rm -rf $(VENV)
