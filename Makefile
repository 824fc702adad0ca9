# The two commands of README.md: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run test install bench clean-models plotly-bundle pdf-libraries

# The PDF report's Debian packages (weasyprint: pango, harfbuzz's subsetter, fontconfig, the DejaVu fonts;
# kaleido: chromium), installed when missing and run as root; `make test` adds poppler-utils (pdftoppm,
# pdftotext) to check PDFs.
PDF_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-dejavu-core chromium
pdf-libraries:
	@if ! dpkg -s $(PDF_DEBS) $(EXTRA_DEBS) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      $(PDF_DEBS) $(EXTRA_DEBS) >/dev/null; \
	  else echo "missing for PDF reports: install the Debian packages $(PDF_DEBS) $(EXTRA_DEBS)"; fi; \
	fi

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(INSTALLED)

# Fetch the datasets, train the default models if the registry has none, list them, start the portal.
run: install pdf-libraries
	$(PY) -m engine bootstrap
	$(PY) -m portal

# Browser tests need Debian's chromium and chromedriver, monitoring tests its prometheus (promtool): installed
# here when missing and run as root.
test: install
	@$(MAKE) --no-print-directory pdf-libraries EXTRA_DEBS=poppler-utils
	@if ! command -v chromedriver >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium and chromium-driver are missing: install them (Debian packages) for the browser tests"; fi; \
	fi
	@if ! command -v promtool >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  else echo "prometheus (promtool) is missing: install Debian's prometheus package for the monitoring tests"; fi; \
	fi
	$(PY) -m bandit -q -r portal engine pages components -lll  # fails on any high-severity finding
	$(PY) -m pytest

bench: install
	$(PY) bench/engine_bench.py
	$(PY) bench/portal_bench.py
	$(PY) bench/predict_bench.py
	$(PY) bench/page_bench.py
	$(PY) bench/batch_bench.py

# Rebuild the portal's partial plotly.js (committed: portal/static/plotly-portal.min.js) with npm; needed
# only when a figure draws a new trace type or plotly is upgraded (tests/portal/test_plotly_bundle.py says so).
plotly-bundle:
	bash portal/static/plotly-bundle/build.sh
