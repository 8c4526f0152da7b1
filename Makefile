# mmamt: `make demo` and `make test` set up .venv first when needed (see tools/install.sh).
#   make install       pre-training environment: mmcv-lite, no compiler needed (a few minutes)
#   make install-full  + mmdet, mmseg, test requirements and mmcv built with its ops (cached)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install install-full demo test clean-venv

install:
	@MODE=lite PYTHON=$(PYTHON) VENV=$(VENV) bash tools/install.sh

install-full:
	@MODE=full PYTHON=$(PYTHON) VENV=$(VENV) bash tools/install.sh

# The demo's handwritten digits come with scikit-learn (requirements/benchmark.txt).
demo: install
	@$(PY) -c 'import sklearn' 2>/dev/null || $(PY) -m pip install --quiet -r requirements/benchmark.txt
	@$(PY) tools/demo.py

test: install-full
	@$(PY) -m pytest tests -q -p no:cacheprovider

clean-venv:
	rm -rf $(VENV)
