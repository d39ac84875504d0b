# One target per job. `make demo` and `make test` are the two set-up commands in the README.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install -c constraints.txt
DATA ?= ../shared/data/asl-alphabet-mini
# the root folders mapped to asl_edge.<name> in pyproject.toml
SUBPACKAGES := train export runtime benchmark doctor apps

# The oldest-supported lane: its own virtualenv with constraints-oldest.txt's pins, no torch (see README, support).
OLDEST_VENV ?= .venv-oldest
OLDEST_BIN := $(OLDEST_VENV)/bin
# What a Jetson runs: backends and contracts, the hand stage, the live app, doctor, and the CLI's run, demo, eval,
# doctor, collect and spec paths (the fault matrix); the training, export and benchmark tests need torch.
OLDEST_TESTS := tests/contracts tests/hands tests/live tests/doctor tests/faults tests/deploy/test_library_versions.py

.PHONY: install dev browser media demo train replay-pack lint tree typecheck layers test check clean test-newest \
	test-oldest test-arm64

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade "pip>=24"

install: $(BIN)/python  ## workstation install: training + export
	$(PIP) -e ".[workstation]"

dev: $(BIN)/python  ## everything, plus test, lint and type-check tools
	$(PIP) -e ".[workstation,dev]"
	$(PIP) --no-deps tensorrt-stubs==10.13.0.35.1

browser:  ## Debian's Chromium for the web-view test (the test skips without it)
	command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

media:  ## Debian's ffmpeg: tests build real H.264 clips with it (collect's signing clip, frame times); they skip without it
	command -v ffmpeg >/dev/null || { apt-get update -qq && apt-get install -y -qq ffmpeg >/dev/null; }

demo: install  ## the main job on the built-in default: the bundled model spells a word from the bundled clip
	$(BIN)/asl-edge demo

train: install  ## train the default model on the shared photos (about 13 minutes on a 2-core CPU)
	$(BIN)/asl-edge train --data $(DATA) --out runs/default

# After retraining asl_edge/assets/asl_landmarks.onnx: its replay pack again, from the photos of the datasets the model
# records (relative to this folder: ../shared/data/...); the first run extracts their landmarks (about 10 minutes on a
# 2-core CPU, then cached). tests/train/test_replay_pack.py fails while model and pack disagree.
replay-pack: install  ## rebuild the bundled replay pack (asl_edge/assets/asl_landmarks.replay.npz) from the photos
	$(BIN)/asl-edge train --init-from asl_edge/assets/asl_landmarks.onnx --write-replay asl_edge/assets/asl_landmarks.replay.npz \
		--replay-data ../shared/data/asl-alphabet-mini --replay-data ../shared/data/asl-letters-multi  # photos only: the video clips carry no licence to ship

lint:
	$(BIN)/ruff check .
	$(BIN)/vermin --target=3.10- --violations --no-tips --eval-annotations -q asl_edge $(SUBPACKAGES) tests  # JetPack 6's Python
	$(BIN)/hadolint --config docker/hadolint.yaml docker/*.Dockerfile

# mypy and import-linter cannot follow setuptools' editable import hook for the package-dir mapping, so they read a
# tree of hard links laid out the way the installed package is.
tree:
	rm -rf build/typecheck && mkdir -p build/typecheck
	cp -rl "$(CURDIR)/asl_edge" build/typecheck/asl_edge
	for d in $(SUBPACKAGES); do cp -rl "$(CURDIR)/$$d" build/typecheck/asl_edge/$$d; done
	find build/typecheck -name __pycache__ -prune -exec rm -rf {} +

typecheck: tree
	$(BIN)/python tools/trt_stubs.py build/typecheck/stubs  # TensorRT 10.13 stubs, repaired for mypy
	MYPYPATH=build/typecheck:build/typecheck/stubs $(BIN)/mypy build/typecheck/asl_edge tests

layers: tree  ## the one-way layers of DESIGN.md and "no torch in the runtime" (import-linter, pyproject.toml)
	cd build/typecheck && "$(CURDIR)/$(BIN)/lint-imports" --config "$(CURDIR)/pyproject.toml" --no-cache

test: test-newest test-oldest test-arm64  ## the README's test command: every lane

test-newest: dev browser media lint typecheck layers  ## the newest releases (constraints.txt): install, lint, types, layers, tests
	$(BIN)/pytest

$(OLDEST_BIN)/python:
	$(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_BIN)/pip install --upgrade "pip>=24"

test-oldest: $(OLDEST_BIN)/python  ## the oldest supported NumPy, OpenCV, ONNX Runtime and onnx, no torch: tests and the demo
	$(OLDEST_BIN)/pip install -c constraints-oldest.txt -e ".[jetson]" onnx protobuf pytest
	ASL_EDGE_LANE=oldest $(OLDEST_BIN)/pytest $(OLDEST_TESTS)
	$(OLDEST_BIN)/asl-edge demo

test-arm64: $(BIN)/python  ## aarch64 under qemu: install, doctor, eval and run on Debian arm64 (skips without root)
	HOST_PYTHON=$(BIN)/python bash tools/arm64_smoke.sh

check: lint typecheck layers
	$(BIN)/pytest

clean:
	rm -rf build .mypy_cache .pytest_cache .ruff_cache $(OLDEST_VENV)
