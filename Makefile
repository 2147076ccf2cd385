# Two commands do everything on a fresh machine:
#   make run   - install into .venv (if needed) and run the main job on the real data mirror
#   make test  - install into .venv (if needed) and run the test suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock 2>/dev/null | md5sum | cut -c1-12)
# The real EO data mirror beside the checkout, else the user's data root.
EOKIT_DATA ?= $(if $(wildcard ../shared/data/MANIFEST.md),$(abspath ../shared/data),$(HOME)/.cache/eokit)
export EOKIT_DATA
OUT ?= outputs

.PHONY: install run test lint bench-deps clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -c requirements.lock -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

L8 := $(EOKIT_DATA)/scenes/landsat8_LC80200392015216
run: $(STAMP)
	@mkdir -p $(OUT)
	$(BIN)/eokit info $(L8)/l8_B4.tif
	$(BIN)/eokit index NDVI $(L8)/l8_B4.tif $(L8)/l8_B5.tif --sensor landsat8 -o $(OUT)/landsat8_ndvi.tif
	$(BIN)/eokit quicklook $(L8)/l8_B4.tif $(L8)/l8_B3.tif $(L8)/l8_B2.tif --sensor landsat8 \
		--map $(OUT)/landsat8_ndvi.tif -o $(OUT)/landsat8_quicklook.png

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

# Optional: peers measured side by side in benchmarks/ (TorchGeo, TerraTorch).
bench-deps: $(STAMP)
	$(BIN)/pip install -q -c requirements.lock -e ".[compare]"

clean:
	rm -rf $(VENV) $(OUT)
