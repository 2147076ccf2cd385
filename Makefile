# Two commands do everything on a fresh machine:
#   make run   - install into .venv (if needed) and run the main job on the real data mirror
#   make test  - install into .venv (if needed) and run the test suite
# and one more before a commit:
#   make check - ruff, the import-layer contract and mypy (CI runs it before the tests)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock 2>/dev/null | md5sum | cut -c1-12)
REF_STAMP := $(VENV)/.ref-$(shell cat requirements-ref.txt 2>/dev/null | md5sum | cut -c1-12)
CLOUD_STAMP := $(VENV)/.cloud-$(shell cat requirements-cloud.txt 2>/dev/null | md5sum | cut -c1-12)
# The real EO data mirror beside the checkout, else the user's data root.
EOKIT_DATA ?= $(if $(wildcard ../shared/data/MANIFEST.md),$(abspath ../shared/data),$(HOME)/.cache/eokit)
export EOKIT_DATA
OUT ?= outputs

.PHONY: install run demo test check lint bench-deps ref-deps cloud-deps clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -c requirements.lock -e ".[dev,causal,embed,cloud,onnx]"
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

# Reference model code (TorchGeo, TerraTorch) for the foundation-model equivalence tests: --no-deps, no pin changes.
$(REF_STAMP): $(STAMP) requirements-ref.txt
	$(BIN)/pip install -q --no-deps -r requirements-ref.txt
	@rm -f $(VENV)/.ref-* && touch $(REF_STAMP)

ref-deps: $(REF_STAMP)

# The s2cloudless cloud model (a file inside the s2cloudless package) for eokit.data.cloud / `eokit mask`:
# the package alone, --no-deps (eokit runs the model with lightgbm, the 'cloud' extra; no sentinelhub).
$(CLOUD_STAMP): $(STAMP) requirements-cloud.txt
	$(BIN)/pip install -q --no-deps -r requirements-cloud.txt
	@rm -f $(VENV)/.cloud-* && touch $(CLOUD_STAMP)

cloud-deps: $(CLOUD_STAMP)

# The main job: the quick benchmark suite on the real data mirror -> leaderboard + OUT/bench/report.html
run: $(STAMP)
	$(BIN)/eokit bench --suite quick --out $(OUT)/bench

# A first look at a real scene: raster info, an NDVI COG and a PNG quicklook of Landsat 8.
L8 := $(EOKIT_DATA)/scenes/landsat8_LC80200392015216
demo: $(STAMP)
	@mkdir -p $(OUT)
	$(BIN)/eokit info $(L8)/l8_B4.tif
	$(BIN)/eokit index NDVI $(L8)/l8_B4.tif $(L8)/l8_B5.tif --sensor landsat8 -o $(OUT)/landsat8_ndvi.tif
	$(BIN)/eokit quicklook $(L8)/l8_B4.tif $(L8)/l8_B3.tif $(L8)/l8_B2.tif --sensor landsat8 \
		--map $(OUT)/landsat8_ndvi.tif -o $(OUT)/landsat8_quicklook.png

# Locates (as root: installs) Chromium for the browser test, or says on one line why it is skipped.
test: $(STAMP) $(REF_STAMP) $(CLOUD_STAMP)
	@bash .ci/chromium
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

# Lint, the layer contract of pyproject's [tool.importlinter], and types ([tool.mypy]).
check: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/lint-imports
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples

# Optional: peers measured side by side in benchmarks/ (TorchGeo, TerraTorch).
bench-deps: $(STAMP)
	# TorchGeo 0.8.1 for benchmarks/sampling.py without changing any pinned version: the package alone,
	# plus only the pure-Python modules torchgeo.datasets/samplers import that are not installed.
	$(BIN)/pip install -q --no-deps torchgeo==0.8.1 einops==0.8.2 requests==2.34.2 charset-normalizer==3.5.3
	# ... and what torchgeo.trainers imports, for benchmarks/train_throughput.py
	$(BIN)/pip install -q --no-deps kornia==0.9.0 kornia-rs==0.2.0 segmentation-models-pytorch==0.6.0 lightly==1.6.0
	$(BIN)/python -c "import torchgeo.datasets, torchgeo.samplers, torch, timm, lightning"
	# TerraTorch 1.2.13 for benchmarks/scene_inference.py: the package alone; the benchmark loads
	# terratorch/tasks/tiled_inference.py (+ models/utils.py) directly, which need only torch, torchvision, tqdm.
	$(BIN)/pip install -q --no-deps terratorch==1.2.13
	$(BIN)/pip install -q --no-deps -c requirements.lock -e ".[compare]"

clean:
	rm -rf $(VENV) $(OUT)
