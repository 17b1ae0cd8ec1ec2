# Quick start on a fresh Linux machine with Python 3.11:
#   make run    create .venv, install, start the app (`pneumo serve`)
#   make test   create .venv, install with test extras, run the tests (the wheel's own smoke test too:
#               tests/test_wheel.py builds it, installs it outside the checkout and scores a film)
#   make artifacts  re-run the evaluations, site studies, drift benchmark and screenshots (tens of minutes on
#                   2 cores; no training); the README's other figures each name their benchmarks/ script
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MODELS := efficientnet_lite0 paper_cnn
# the full dataset: the drift benchmark reads held-out validation films from it
DATA ?= ../shared/data/chest_xray

.PHONY: run test venv test-deps browser orthanc artifacts clean

# The exact pins, then the checkout itself, editable: the `pneumo` command, with this checkout as the
# product's home (pneumo_core/io/home.py); its build backend comes from PyPI like the pins
$(VENV)/.installed: requirements.txt pyproject.toml hatch_build.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt requirements-train.txt
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/pneumo serve

browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# a real PACS for tests/pacs: Orthanc with its DICOMweb plugin, and dcmtk's real DICOM sender and SR
# reader (storescu, storescp, dsrdump), and openssl for the node's TLS test certificates (Debian packages;
# the service is not started)
orthanc:
	@{ command -v Orthanc || test -x /usr/sbin/Orthanc; } >/dev/null 2>&1 && test -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so \
		&& command -v storescu >/dev/null 2>&1 && command -v storescp >/dev/null 2>&1 && command -v dsrdump >/dev/null 2>&1 \
		&& command -v openssl >/dev/null 2>&1 \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq orthanc orthanc-dicomweb dcmtk openssl >/dev/null)

test: $(VENV)/.installed-test browser orthanc
	$(PY) -m pytest -q

# The shipped evaluations (weights/*/eval_test.json), the site studies (weights/*/site_study_test.json),
# the drift benchmark (benchmarks/results/drift_rates.json) and the README's screenshots
# (docs/screenshots/*.png); then the results tables to paste into README.md (the adaptation table comes
# from `adapt-study`, hours on 2 cores: docs/site-adaptation.md).
artifacts: $(VENV)/.installed-test browser
	for m in $(MODELS); do $(PY) -m pneumo_core dev evaluate --model $$m || exit 1; done
	for m in $(MODELS); do $(PY) -m pneumo_core site study --model $$m || exit 1; done
	$(PY) benchmarks/drift_rates.py --data $(DATA)
	$(PY) scripts/screenshots.py
	@echo "README.md tables (tests/test_readme.py checks they match):"
	$(PY) -m pneumo_core models --markdown
	$(PY) -m pneumo_core models --markdown --table site
	$(PY) -m pneumo_core models --markdown --table adapted

clean:
	rm -rf $(VENV) runs
