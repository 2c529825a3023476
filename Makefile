# htr-lit: every target is listed by `make help`.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel on this machine; a GPU user passes their own, e.g.
#   make setup TORCH_SPEC="torch==2.5.1 --index-url https://download.pytorch.org/whl/cu124"
# or installs torch into .venv first (pip keeps an installed torch that satisfies torch>=2.2).
TORCH_SPEC ?= torch==2.13.0
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup setup-dev system-deps train test test-fast lint data fetch-dhsd train-dhsd pretrain pretrain-separable recognizer recognizer-separable predict adapt inspect cv audit-planted confidence adapt-curve clean check-wheel

help:  ## list the targets (target names in colour only on a terminal)
	@if [ -t 1 ]; then on='\033[36m'; off='\033[0m'; fi; grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk -v on="$$on" -v off="$$off" 'BEGIN{FS=":.*?## "}{printf "  %s%-14s%s %s\n", on, $$1, off, $$2}'

system-deps:  ## install handwriting fonts + word lists with apt (skipped where apt is missing)
	@bash scripts/install_system_deps.sh

$(BIN)/.installed: pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@if ! $(BIN)/python -c "import torch" 2>/dev/null; then echo ">> installing $(TORCH_SPEC)"; $(BIN)/pip install -q $(TORCH_SPEC); fi
	$(BIN)/pip install -q -e .
	@touch $@

# Tests and lint also need the extras (pytest, ruff, ONNX, the sweep launchers incl. Ray): installed
# only for them, so that `make train` on a fresh machine does not wait for Ray.
$(BIN)/.installed-dev: $(BIN)/.installed
	@bash scripts/install_system_deps.sh --dev
	$(BIN)/pip install -q -e ".[dev]"
	@touch $@

setup: $(BIN)/.installed  ## create .venv and install htr-lit (+ fonts via apt); idempotent
setup-dev: $(BIN)/.installed-dev  ## setup + the test/lint/export/cluster extras (pytest, ruff, onnx, launchers) + chromium (apt)

train: setup  ## train the default experiment (CRNN on built-in synthetic data) and print metrics
	$(BIN)/python -m htr_lit.train $(ARGS)

test: setup-dev  ## run the test suite
	$(BIN)/python -m pytest -q $(ARGS)

test-fast: setup-dev  ## the tests not marked slow (no subprocess, no long training), in 2 processes (pytest-xdist)
	$(BIN)/python -m pytest -q -m "not slow" -n 2 $(ARGS)

check-wheel: setup  ## build the wheel, install it in a fresh venv outside the repo, run the CLIs + a fast_dev_run from a temp folder
	PY=$(BIN)/python TORCH_SPEC="$(TORCH_SPEC)" bash scripts/check_wheel.sh

lint: setup-dev  ## ruff check
	$(BIN)/ruff check .

data: setup  ## generate the synthetic word dataset once (reused by every run)
	$(BIN)/python -m htr_lit.data.synth $(ARGS)

fetch-dhsd: setup  ## download DHSD v1.0.0 (37 writers), check every file's SHA-256 -> data/dhsd (ARGS='--dest DIR --url URL')
	$(BIN)/python -m htr_lit.data_cli fetch dhsd $(ARGS)

train-dhsd: setup  ## train CRNN on ../shared/data/dhsd, 5 writers held out (under 60 min on 2 cores)
	$(BIN)/python -m htr_lit.train experiment=crnn_dhsd $(ARGS)

# Pre-training recipe shared by `pretrain` and `pretrain-separable`: render the names once, train (resumable), ship.
#   $(call pretrain_recipe,EXPERIMENT,SHIPPED_NAME)
define pretrain_recipe
	$(BIN)/python -m htr_lit.data.synth --style names --num-train 100000 --num-val 2000 --num-test 2000 --out data/synth_names
	$(BIN)/python -m htr_lit.train experiment=$(1) torch_threads=1 resume=true hydra.run.dir=outputs/$(1) $(ARGS)
	$(BIN)/python scripts/ship_model.py outputs/$(1)/checkpoints/best.ckpt htr_lit/assets/models/$(2).ckpt
endef

pretrain: setup  ## pre-train the shipped model on 116,000 synthetic names + words (~55 min, 1 thread) -> htr_lit/assets/models/pretrained.ckpt
	$(call pretrain_recipe,pretrain_names,pretrained)

pretrain-separable: setup  ## pre-train the depthwise-separable encoder (experiment=pretrain_names_separable, 1 thread) -> htr_lit/assets/models/pretrained_separable.ckpt
	$(call pretrain_recipe,pretrain_names_separable,pretrained_separable)

# Recognizer recipe shared by `recognizer` and `recognizer-separable`: train on all 30 DHSD writers (resumable),
# ship the last epoch.   $(call recognizer_recipe,EXPERIMENT)
define recognizer_recipe
	$(BIN)/python -m htr_lit.train experiment=$(1) resume=true hydra.run.dir=outputs/$(1) $(ARGS)
	$(BIN)/python scripts/ship_model.py outputs/$(1)/checkpoints/last.ckpt htr_lit/assets/models/$(1).ckpt
endef

recognizer: setup  ## train the shipped recognizer (BiLSTM CRNN recipe, all 30 DHSD writers, ~44 min alone on 2 cores; ARGS='model/sequence=dilated') -> htr_lit/assets/models/recognizer.ckpt
	$(call recognizer_recipe,recognizer)

recognizer-separable: setup  ## train the fast recognizer (separable encoder + BiLSTM, 20 epochs, all 30 DHSD writers; ARGS='torch_threads=1') -> htr_lit/assets/models/recognizer_separable.ckpt
	$(call recognizer_recipe,recognizer_separable)

INPUT ?=
predict: setup  ## transcribe INPUT=image|folder|glob|list.txt with the shipped recognizer (ARGS='shipped=recognizer' or 'ckpt_path=... format=jsonl')
	@test -n "$(INPUT)" || { echo "usage: make predict INPUT=path/to/image.png [ARGS='format=jsonl']"; exit 2; }
	$(BIN)/python -m htr_lit.predict input="$(INPUT)" $(ARGS)

adapt: setup  ## fine-tune the shipped recognizer on LABELS=your_words.csv (file_name,text; 10-500 words) -> OUT=adapted/adapted.ckpt (ARGS='shipped=... recipe.steps=...')
	@test -n "$(LABELS)" || { echo "usage: make adapt LABELS=my_words/labels.csv [OUT=adapted] [ARGS='allow_absolute=true']"; exit 2; }
	$(BIN)/python -m htr_lit.adapt labels="$(LABELS)" out="$(or $(OUT),adapted)" $(ARGS)

inspect: setup  ## error-analysis page (one HTML file) of CKPT=path (default: the shipped recognizer) on ARGS='data=dhsd | test_csv=...'
	$(BIN)/python -m htr_lit.inspect $(if $(CKPT),ckpt_path=$(CKPT)) $(ARGS)

EXP ?= crnn_dhsd
cv: setup  ## writer cross-validation of EXP (default crnn_dhsd): 5 writer folds as one Hydra multirun (a fold a job), 2 at a time, resumable (ARGS='--pilot 2', '--launcher slurm hydra.launcher.partition=gpu')
	$(BIN)/python -m htr_lit.cv experiment=$(EXP) $(ARGS)

CV ?= outputs/cv/separable_oof
FOLDS ?= 0 1 2 3 4
comma := ,
empty :=
space := $(empty) $(empty)
audit-planted: setup  ## the label audit measured: wrong labels planted in each fold of CV (default outputs/cv/separable_oof), one threshold chosen on every fold's validation writers pooled -> docs/audit/planted_*.json (FOLDS='0 1 2 3 4')
	for i in $(FOLDS); do $(BIN)/python -m htr_lit.cv.audit_planted --cv $(CV) --fold $$i --rank nats_lm --out docs/audit || exit 1; done
	$(BIN)/python -m htr_lit.cv.audit_pooled $(foreach i,$(FOLDS),docs/audit/planted_fold$(i)_nats_lm.json) --also 11.8 13.1 --out docs/audit/planted_pooled_nats_lm.json

confidence: setup  ## the word confidence calibrated out of fold over CV's FOLDS (fit on the other folds' readings) -> docs/confidence/out_of_fold_<folds>.json (ARGS='--decoder beam_names --features ...')
	$(BIN)/python -m htr_lit.cv.calibrate --cv $(CV) --folds $(subst $(space),$(comma),$(strip $(FOLDS))) --features all --out docs/confidence $(ARGS)

adapt-curve: setup  ## CER against k own words for each test writer of CV's FOLDS (htr-adapt's recipe, at most 300 steps), pooled and plotted -> docs/adaptation/fold<i>_test_steps300.json, folds_<folds>_test_steps300.json, curve_folds_<folds>_steps300.png (K='10,25,50,100')
	for i in $(FOLDS); do $(BIN)/python -m htr_lit.cv.adapt_curve --cv $(CV) --fold $$i --writers test --k $(or $(K),10$(comma)25$(comma)50$(comma)100) --threads 1 --set recipe.steps=300 --out docs/adaptation/fold$${i}_test_steps300.json || exit 1; done
	$(BIN)/python -m htr_lit.cv.adapt_report $(foreach i,$(FOLDS),docs/adaptation/fold$(i)_test_steps300.json) --pooled-out docs/adaptation/folds_$(subst $(space),_,$(strip $(FOLDS)))_test_steps300.json
	$(BIN)/python -m htr_lit.cv.adapt_plot docs/adaptation/curve_folds_$(subst $(space),_,$(strip $(FOLDS)))_steps300.png $(foreach i,$(FOLDS),docs/adaptation/fold$(i)_test_steps300.json)

clean:  ## remove outputs (keeps .venv and generated data)
	rm -rf outputs multirun

CKPT ?=
.PHONY: bench-decoders
bench-decoders: setup  ## time every CTC decoder on CKPT=path's test split -> docs/decoders.json (ARGS: --test-csv, --lm-text)
	@test -n "$(CKPT)" || { echo "usage: make bench-decoders CKPT=path/to/best.ckpt [ARGS='--test-csv labels.csv']"; exit 2; }
	$(BIN)/python -m htr_lit.measuring.bench_decoders --ckpt $(CKPT) $(ARGS)

.PHONY: export
export: setup-dev  ## export CKPT=path to ONNX beside it, checked against PyTorch (ARGS='format=torchscript output=PATH')
	@test -n "$(CKPT)" || { echo "usage: make export CKPT=path/to/best.ckpt [ARGS='format=torchscript']"; exit 2; }
	$(BIN)/python -m htr_lit.export ckpt_path=$(CKPT) $(ARGS)

.PHONY: bench
bench: setup-dev  ## time every sequence model, then end-to-end predict img/s per backend (torch/onnx/int8) -> docs/performance*.{json,md} (ARGS: --quick; PREDICT_ARGS: --images 200)
	$(BIN)/python -m htr_lit.measuring.bench $(ARGS)
	$(BIN)/python -m htr_lit.measuring.bench_predict $(PREDICT_ARGS)

.PHONY: bench-length
bench-length: setup  ## speed vs image width 128..2048 px, BiLSTM vs dilated variants -> docs/performance_length.{json,png} + a performance.md section (ARGS: --smoke)
	$(BIN)/python -m htr_lit.measuring.bench_length $(ARGS)

.PHONY: pareto
pareto: setup  ## CV CER vs inference img/s per encoder+sequence model from docs/performance.json and outputs/cv: Pareto front and the 2x-at-equal-CER goal -> docs/pareto.{png,json} + a performance.md section (ARGS: --map separable+tcn=DIR)
	$(BIN)/python -m htr_lit.cv.pareto $(ARGS)

# ---- sweeps and ablations (see sweeps/README.md); re-running a sweep command resumes it
.PHONY: sweep-rates sweep-blocks sweep-share sweep-concat sweep-matched hparams-search report reproduce
SWEEP = $(BIN)/python -m htr_lit.train -m
DIR ?=
PRESET ?= cpu
sweep-rates: setup  ## dilation rate sets [1,2,4] [1,2,4,8] [1,1,1] [1,3,9] x 3 seeds -> outputs/sweeps/rates
	$(SWEEP) sweep=rates $(ARGS)
sweep-blocks: setup  ## dilated num_blocks 1..4 x 3 seeds -> outputs/sweeps/blocks
	$(SWEEP) sweep=blocks $(ARGS)
sweep-share: setup  ## dilated share_weights true/false x 3 seeds -> outputs/sweeps/share
	$(SWEEP) sweep=share $(ARGS)
sweep-concat: setup  ## dilated concat all/last x 3 seeds -> outputs/sweeps/concat
	$(SWEEP) sweep=concat $(ARGS)
sweep-matched: setup  ## BiLSTM vs dilated at matched parameter counts x 3 seeds -> outputs/sweeps/matched
	$(SWEEP) sweep=matched $(ARGS)
hparams-search: setup  ## resumable Optuna search (SQLite) over the dilated model, objective val/cer
	$(SWEEP) hparams_search=optuna_dilated $(ARGS)
report: setup  ## DIR=sweep folder -> DIR/report.md, report.csv, report.png (mean ± std over seeds)
	@test -n "$(DIR)" || { echo "usage: make report DIR=outputs/sweeps/rates [ARGS='--baseline ...']"; exit 2; }
	$(BIN)/python -m htr_lit.results.report $(DIR) $(ARGS)
reproduce: setup  ## headline ablation -> docs/results.md (PRESET=cpu: <2 h on 2 cores | smoke: minutes | long: +35 min | gpu | cv: over writer folds, ~12 h | cv_smoke)
	PY=$(BIN)/python PRESET=$(PRESET) bash sweeps/reproduce.sh $(ARGS)
