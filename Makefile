# Two commands from a fresh clone: `make run` trains the tutorial, `make test` runs the quick
# tests; each first makes or updates .venv (lstm_mnist/environment.py). `make check` runs every
# test, as CI does; `make coverage` runs every test with line coverage (2.4-3 s more for each of
# the hundreds of Python processes the tests start: tracing TensorFlow's import and graph).
#   make run ARGS="--seed=3 --training_steps=2000"
PYTHON := .venv/bin/python
PYTEST := $(PYTHON) -m pytest
COVERAGE := $(PYTHON) -m coverage
export PROJECT_ROOT := $(CURDIR)
REQUIREMENTS := requirements.txt requirements-mnist.txt

.PHONY: run test check coverage
run: .venv/.installed-run
	$(PYTHON) train_rnn.py $(ARGS)

test: .venv/.installed-test
	@$(COVERAGE) erase
	$(PYTEST) -m "not slow" --cov --cov-report= $(ARGS)
	@echo "# line coverage of train_rnn.py, the scripts and lstm_mnist/ by the quick tests: $$($(COVERAGE) report --format=total)%"

check: .venv/.installed-test
	$(PYTEST) $(ARGS)

coverage: .venv/.installed-test
	@$(COVERAGE) erase
	$(PYTEST) --cov --cov-report= $(ARGS)
	@echo "# line coverage of train_rnn.py, the scripts and lstm_mnist/ by all the tests: $$($(COVERAGE) report --format=total)%"

.venv/.installed-run: $(REQUIREMENTS)
	@python3 -m lstm_mnist.environment run

.venv/.installed-test: $(REQUIREMENTS) requirements-dev.txt
	@python3 -m lstm_mnist.environment test
