# The two commands of the README (app, test), plus the quicker loops. Each sets up .venv itself on first use.
PORT ?= 8501
export NO_ALBUMENTATIONS_UPDATE = 1
LINTED = core pages tests bench app.py deploy

.PHONY: app test test-fast lint format bench

app:  ## set up and start the app
	bash .ci/setup.sh app
	.venv/bin/python -m streamlit run app.py --server.port $(PORT)

test:  ## set up, lint, and run every test (unit, CLI, page and real-browser tests)
	bash .ci/setup.sh test
	.venv/bin/ruff check $(LINTED)
	.venv/bin/ruff format --check $(LINTED)
	GS_OFFLINE=1 .venv/bin/python -m pytest -q --durations=12

test-fast:  ## everything but the browser tier (a few minutes)
	bash .ci/setup.sh test
	GS_OFFLINE=1 .venv/bin/python -m pytest -q -m "not browser" --durations=8

lint:  ## ruff: lint and formatting check
	bash .ci/setup.sh test
	.venv/bin/ruff check $(LINTED)
	.venv/bin/ruff format --check $(LINTED)

format:  ## apply ruff's fixes and formatting
	.venv/bin/ruff check --fix $(LINTED)
	.venv/bin/ruff format $(LINTED)

bench:  ## run the benchmarks (needs ../shared/data) and write BENCHMARKS.md
	bash .ci/setup.sh test
	.venv/bin/python -m bench train sort sort-backbones sort-limit finetune app scaling discover ray \
		teach ladder page-open int8 intake
	OMP_WAIT_POLICY=PASSIVE .venv/bin/python -m bench cam
	# the accuracy anchor takes hours here; run it on its own: .venv/bin/python -m bench anchor
