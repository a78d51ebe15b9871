# Two commands on a fresh machine: `make run` (the pipeline, locally) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The sessionizer's own environment: apache-flink and pulumi pin different dill versions.
FLINK_VENV := .venv-sessionizer
FLINK_BIN := $(FLINK_VENV)/bin
FLINK_STAMP := $(FLINK_VENV)/.installed
CONNECTOR := runtime/sessionizer/connector
CONNECTOR_JAR := $(CONNECTOR)/target/prism-sessionizer-connector.jar
SESSIONIZER_ZIP := build/sessionizer/prism-sessionizer.zip
SESSIONIZER_SOURCES := runtime/__init__.py runtime/events.py runtime/text_settings.py \
	$(wildcard runtime/sessionizer/*.py)

.PHONY: setup lint typecheck test check clean sessionizer-connector sessionizer-zip session-writer-zip replay-zip reconciler-zip run \
	tools system-tools local-tools diagram ingest-constraints lambda-constraints docs docs-check

# A Debian package a target needs, installed once when its command is missing: as root, or
# through sudo for a user that has it (a CI runner). Usage: $(call debian,COMMAND,PACKAGE)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
debian = command -v $(1) >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(2); }

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[infra,ingest,session-writer,local,docs,dev]"
	touch $@

$(FLINK_STAMP): pyproject.toml
	$(PYTHON) -m venv $(FLINK_VENV)
	$(FLINK_BIN)/pip install --quiet --upgrade pip
	$(FLINK_BIN)/pip install --quiet -e ".[sessionizer,sessionizer-test]"
	touch $@

setup: $(STAMP) $(FLINK_STAMP)

# Maven fetches the Kinesis connector from Maven Central and shades it with our
# partition key generator; the jar is never committed.
$(CONNECTOR_JAR): $(CONNECTOR)/pom.xml $(shell find $(CONNECTOR)/src -name '*.java')
	$(call debian,mvn,maven)
	mvn -q -B package -f $(CONNECTOR)/pom.xml

sessionizer-connector: $(CONNECTOR_JAR)

# The Managed Flink application zip; components/sessionizer.py uploads it.
$(SESSIONIZER_ZIP): $(STAMP) $(CONNECTOR_JAR) $(SESSIONIZER_SOURCES) runtime/packaging.py
	$(BIN)/python -m runtime.sessionizer.package --jar $(CONNECTOR_JAR) --output $@

sessionizer-zip: $(SESSIONIZER_ZIP)

# The session writer's Lambda zip, dependencies built for arm64 (pip, from PyPI).
SESSION_WRITER_ZIP := build/session_writer/prism-session-writer.zip
SESSION_WRITER_SOURCES := runtime/__init__.py runtime/events.py runtime/kpl.py runtime/text_settings.py \
	runtime/packaging.py $(wildcard runtime/session_writer/*.py) runtime/session_writer/constraints.txt
$(SESSION_WRITER_ZIP): $(STAMP) pyproject.toml $(SESSION_WRITER_SOURCES)
	$(BIN)/python -m runtime.session_writer.package --output $@

session-writer-zip: $(SESSION_WRITER_ZIP)

# The live replayer's Lambda zip (loadtest), built the same way.
REPLAY_ZIP := build/replay/prism-replayer.zip
# Which modules go in is runtime/replay/package.py's to say; any change to them rebuilds.
REPLAY_SOURCES := $(wildcard runtime/*.py runtime/ingest/*.py runtime/replay/*.py) runtime/replay/constraints.txt
$(REPLAY_ZIP): $(STAMP) pyproject.toml $(REPLAY_SOURCES)
	$(BIN)/python -m runtime.replay.package --output $@

replay-zip: $(REPLAY_ZIP)

# The reconciler's Lambda zip: its modules and runtime/sessionizer's plain Python ones.
RECONCILER_ZIP := build/reconciler/prism-reconciler.zip
RECONCILER_SOURCES := $(wildcard runtime/*.py runtime/sessionizer/*.py runtime/reconciler/*.py) \
	runtime/reconciler/constraints.txt
$(RECONCILER_ZIP): $(STAMP) pyproject.toml $(RECONCILER_SOURCES)
	$(BIN)/python -m runtime.reconciler.package --output $@

reconciler-zip: $(RECONCILER_ZIP)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy against pulumi_aws's typed argument classes is our stand-in for the
# provider's own check that a preview would run.
typecheck: setup
	$(BIN)/mypy components __main__.py runtime tests bench policy preview dashboards

# Tools the tests run that pip does not ship: actionlint from its Go module (its PyPI wrapper
# downloads the binary from GitHub at install time), shellcheck (actionlint checks the
# workflows' scripts with it), graphviz (the diagrams) and InfluxDB 1.x (the session
# writer's InfluxDB store is tested against it; a local run can keep sessions in it) from Debian.
TOOLS := .local/bin
ACTIONLINT := $(TOOLS)/actionlint
ACTIONLINT_MODULE := github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
$(ACTIONLINT):
	$(call debian,go,golang-go)
	GOBIN=$(CURDIR)/$(TOOLS) go install $(ACTIONLINT_MODULE)

# graphviz draws the preview diagram, shellcheck checks .ci/run, and the tests open the dashboard
# page and the run's report in headless Chromium.
system-tools: local-tools
	$(call debian,dot,graphviz)
	$(call debian,shellcheck,shellcheck)
	$(call debian,chromium,chromium)

# What `make run` needs beyond the image's Python and Java: InfluxDB 1.x (the local session
# store) and npm (kinesis-mock installs itself from the npm registry on first use).
local-tools:
	$(call debian,influxd,influxdb)
	$(call debian,npm,npm)

tools: $(ACTIONLINT) system-tools

# The Lambdas' pinned dependencies (runtime/<function>/constraints.txt), resolved anew for arm64.
lambda-constraints: setup
	$(BIN)/python -m runtime.session_writer.package --constraints
	$(BIN)/python -m runtime.replay.package --constraints
	$(BIN)/python -m runtime.reconciler.package --constraints

# The ingest image's pinned dependencies (runtime/ingest/constraints.txt), resolved anew.
ingest-constraints:
	rm -rf build/constraints-venv && $(PYTHON) -m venv build/constraints-venv
	build/constraints-venv/bin/pip install --quiet --upgrade pip
	build/constraints-venv/bin/pip install --quiet ".[ingest]"
	{ sed -n '1,2p' runtime/ingest/constraints.txt; build/constraints-venv/bin/pip freeze --exclude prism-pipeline; } \
		> runtime/ingest/constraints.txt.new && mv runtime/ingest/constraints.txt.new runtime/ingest/constraints.txt

# The architecture of a stack, drawn from the program: make diagram STACK=dev [DIAGRAM=docs/architecture-dev.png]
STACK ?= dev
DIAGRAM ?= docs/architecture-$(STACK).png
diagram: setup system-tools $(SESSIONIZER_ZIP) $(SESSION_WRITER_ZIP) $(REPLAY_ZIP)
	$(BIN)/python -m preview.diagram --stack $(STACK) --output $(DIAGRAM)

# The whole pipeline on this machine until Ctrl-C, e.g. make run RUN_ARGS="--viewers 20 --duration 120".
RUN_ARGS ?=
run: setup local-tools $(CONNECTOR_JAR)
	$(BIN)/python -m runtime.local $(RUN_ARGS)

# The Pulumi tests read the application zips, so they are built first.
test: lint typecheck docs-check tools $(SESSIONIZER_ZIP) $(SESSION_WRITER_ZIP) $(REPLAY_ZIP) $(RECONCILER_ZIP)
	$(BIN)/pytest
	$(FLINK_BIN)/python -m pytest --noconftest -p no:cacheprovider tests/flink

# The fast loop while editing: lint, types, the docs and the tests that need no stand-in,
# no built zip (Maven), no Flink and no tool from `make tools`. CI runs `make test`.
check: lint typecheck docs-check
	$(BIN)/pytest -m "not integration and not built" -p no:cacheprovider -q

# The docs site (docs/, mkdocs.yml) into build/site, its settings page written from runtime/stack first.
docs: setup
	$(BIN)/python -m runtime.stack.reference
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# What the tests hold: the settings page equals the readers, and the site builds without a
# warning (a broken link or anchor, a page missing from the navigation).
docs-check: setup
	$(BIN)/python -m runtime.stack.reference --check
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) $(FLINK_VENV) build $(CONNECTOR)/target .mypy_cache .ruff_cache .pytest_cache

# Benchmarks print figures; they are not tests. wrk is the load generator.
.PHONY: bench-ingest bench-validation
bench-ingest: setup
	$(call debian,wrk,wrk)
	$(BIN)/python -m bench.ingest

bench-validation: setup
	$(BIN)/python -m bench.validation

# The session writer's figures include a local InfluxDB's CPU per record written.
bench-session-writer: setup local-tools
	$(BIN)/python -m bench.session_writer

# A viewer's traffic, from the player simulator's sessions: what the capacity model scales.
bench-traffic: setup
	$(BIN)/python -m bench.traffic

bench-replay: setup
	$(BIN)/python -m bench.replay

# PyFlink's local mini-cluster: run it in the sessionizer's environment.
.PHONY: bench-sessionizer bench-sessionizer-state bench-session-writer bench-replay bench-traffic bench-reference
bench-sessionizer: setup
	$(FLINK_BIN)/python -m bench.sessionizer

# The job with 100,000 and 1,000,000 open sessions in state (about 30 minutes); javac builds its
# generator and latency sink (bench/sessionizer_state/) against the environment's Flink.
bench-sessionizer-state: setup $(CONNECTOR_JAR)
	$(FLINK_BIN)/python -m bench.sessionizer_state

# Every benchmark again, its figures kept as the repository's reference (bench/reference/*.json,
# bench/results.py): what the capacity model reads. Never edit those files by hand.
bench-reference: setup local-tools $(CONNECTOR_JAR)
	$(call debian,wrk,wrk)
	$(BIN)/python -m bench.traffic --reference
	$(BIN)/python -m bench.ingest --reference
	$(BIN)/python -m bench.validation --reference
	$(FLINK_BIN)/python -m bench.sessionizer --reference
	$(BIN)/python -m bench.session_writer --reference
	$(BIN)/python -m bench.replay --reference
