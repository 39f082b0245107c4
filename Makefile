# The two commands of the README. Each sets up .venv itself on first use.
PORT ?= 8501
export NO_ALBUMENTATIONS_UPDATE = 1

.PHONY: app test bench

app:  ## set up and start the app
	bash .ci/setup.sh app
	.venv/bin/python -m streamlit run app.py --server.port $(PORT)

test:  ## set up and run every test (unit, CLI, page and real-browser tests)
	bash .ci/setup.sh test
	GS_OFFLINE=1 .venv/bin/python -m pytest -q --durations=12 tests

bench:  ## run the benchmarks (needs ../shared/data) and write BENCHMARKS.md
	bash .ci/setup.sh test
	.venv/bin/python -m bench train sort sort-backbones app scaling discover ray
	OMP_WAIT_POLICY=PASSIVE .venv/bin/python -m bench cam
