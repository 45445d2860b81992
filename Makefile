# Meshwork developer commands. Everything installs into ./.venv from the hash-pinned lockfile.
PYTHON ?= python3
UV_VERSION := 0.13.8
VENV := .venv
UV := .tools/bin/uv
BIN := $(VENV)/bin
export MESH_HOME ?= $(CURDIR)/.mesh
export DAGSTER_HOME := $(MESH_HOME)/dagster
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run test ui check lint lock clean help bench bench-full catalog mutate

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: requirements.lock pyproject.toml | $(UV)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(UV) pip sync --quiet --compile-bytecode --python $(BIN)/python --require-hashes requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

# datacontract-cli (an independent ODCS tool the tests run) in its own virtualenv: its pins are not ours.
DATACONTRACT := .tools/datacontract
$(DATACONTRACT)/.installed: tools/datacontract/requirements.lock | $(UV)
	test -x $(DATACONTRACT)/bin/python || $(PYTHON) -m venv $(DATACONTRACT)
	$(UV) pip sync --quiet --python $(DATACONTRACT)/bin/python --require-hashes tools/datacontract/requirements.lock
	touch $@

install: $(VENV)/.installed $(DATACONTRACT)/.installed  ## create .venv (and datacontract-cli's) from the locked dependencies

run: install  ## generate the example data and build the whole mesh through Dagster
	$(BIN)/mesh build

test: install  ## run the whole test suite (no tests collected counts as a failure)
	$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treating as a failure" >&2; exit 1; fi; exit $$rc

ui: install  ## start the Dagster UI on http://127.0.0.1:3000
	$(BIN)/mesh dev

catalog: install  ## write the static catalog to $(MESH_HOME)/catalog (open index.html)
	$(BIN)/mesh catalog build

check: install  ## validate descriptors, contracts, policies and every code location
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/mesh check
	$(BIN)/dagster definitions validate -w workspace.yaml

bench: install  ## quick benchmarks (about 4 minutes): mesh vs raw DuckDB, validation, definitions load, catalog, lineage
	$(BIN)/python -m benchmarks.mesh_build --orders 20000 200000 --repeat 1
	$(BIN)/python -m benchmarks.validation --rows 1000000 --repeat 1
	$(BIN)/python -m benchmarks.definitions_load --products 100 --repeat 1
	$(BIN)/python -m benchmarks.catalog --products 1000 --repeat 3
	$(BIN)/python -m benchmarks.orchestration --shape 5x4 --repeat 1
	$(BIN)/python -m benchmarks.lineage --events 300 --timeout 1
	$(BIN)/python -m benchmarks.enforced --rows 100000 --reads 10 --seconds 3

bench-full: install  ## the figures of docs/benchmarks.md (about 40 minutes); writes docs/benchmarks/
	$(BIN)/python -m benchmarks.mesh_build --orders 100000 1000000 10000000 --repeat 2 --json docs/benchmarks/mesh_build.json
	$(BIN)/python -m benchmarks.plot docs/benchmarks/mesh_build.json docs/benchmarks/build_vs_rows
	$(BIN)/python -m benchmarks.validation --rows 1000000 10000000 --repeat 3
	$(BIN)/python -m benchmarks.definitions_load --products 100 1000 --repeat 3
	$(BIN)/python -m benchmarks.catalog --products 1000 --repeat 5
	$(BIN)/python -m benchmarks.orchestration --shape 5x4 20x50 --repeat 2 --json docs/benchmarks/orchestration.json
	$(BIN)/python -m benchmarks.soak --minutes 5 --readers 3 --json docs/benchmarks/soak.json
	$(BIN)/python -m benchmarks.lineage --events 1000 --timeout 1
	$(BIN)/python -m benchmarks.enforced --rows 1000000 --reads 30 --seconds 10

# `make mutate MUTATE_MODULES="ports/publish.py model/rules.py"` mutates only those, in that order;
# MUTATE_TESTS replaces the test pool (pytest arguments); MUTATE_ARGS adds options (--survivors, --report).
MUTATE_MODULES ?=
MUTATE_TESTS ?=
MUTATE_FAIL_UNDER ?= 90
mutate: install  ## mutation testing of the core modules (slow, not in CI; docs/testing.md)
	nice -n 10 $(BIN)/python -m tests.mutate --fail-under $(MUTATE_FAIL_UNDER) \
		$(foreach m,$(MUTATE_MODULES),--module $(m)) $(foreach t,$(MUTATE_TESTS),--tests=$(t)) $(MUTATE_ARGS)

lint: install  ## ruff, mypy and the package's import layers (import-linter)
	$(BIN)/ruff check platform domains tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

lock: | $(UV)  ## resolve new dependencies into requirements.lock and deploy/*.lock (the image's, its build backend's)
	# uv pip compile keeps every version already pinned in the output file; `make lock UPGRADE=1` upgrades.
	$(UV) pip compile pyproject.toml --group dev --universal --generate-hashes --no-header \
		--python-version 3.11 $(if $(UPGRADE),--upgrade) -q -o requirements.lock
	# The image runs the same versions as development: the dev lock constrains the deploy lock.
	grep -E '^[a-z0-9].*==' requirements.lock | sed -E 's/ *\\$$//' > .tools/constraints.txt
	$(UV) pip compile pyproject.toml --extra deploy --universal --generate-hashes --no-header \
		--python-version 3.11 -c .tools/constraints.txt -q -o deploy/requirements.lock
	# The image builds the project with the backend of [build-system] requires, locked with hashes too,
	# at the versions the image already runs (deploy/Dockerfile installs it; nothing is resolved there).
	grep -E '^[a-z0-9].*==' deploy/requirements.lock | sed -E 's/ *\\$$//' > .tools/deploy-constraints.txt
	$(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')" \
		| $(UV) pip compile - --universal --generate-hashes --no-header --python-version 3.11 \
		-c .tools/deploy-constraints.txt -q -o deploy/build-requirements.lock

clean:  ## remove the local mesh (warehouses, ports, Dagster instance) and dbt artifacts
	rm -rf .mesh dbt_project/target dbt_project/logs
