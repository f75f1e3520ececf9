# crossrank eval (issue 14): the metric goldens from PyPI ir-measures.
# Not part of make setup: internal/eval's tests read only the committed
# internal/eval/testdata/golden.json.

EVAL_VENV := $(CACHE)/venv-eval
EVAL_PY := $(EVAL_VENV)/bin/python

.PHONY: venv-eval eval-golden

## venv-eval: the ir-measures venv (.cache/venv-eval) for the metric goldens
venv-eval: $(EVAL_VENV)/.crossrank-stamp

$(EVAL_VENV)/.crossrank-stamp: mk/eval.mk
	python3 -m venv $(EVAL_VENV)
	$(EVAL_PY) -m pip install -q --disable-pip-version-check ir-measures==0.3.7 pytrec-eval-terrier==0.5.11
	touch $@

## eval-golden: regenerate internal/eval/testdata/golden.json with ir-measures (fixed seed)
eval-golden: venv-eval
	$(EVAL_PY) internal/eval/testdata/golden.py internal/eval/testdata/golden.json
