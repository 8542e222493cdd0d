# The README's commands: `make demo` and `make test`. Each does its own set-up.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup demo test test-unit test-integration test-cluster sanity lint molecule bench clean images bundle \
	bundle-validate tools olm-install olm-uninstall olm-catalog

setup:
	@hack/setup.sh

demo: setup
	$(VENV)/bin/ansible-playbook playbooks/demo.yml $(if $(KUBELET_DIR),-e kubelet_dir=$(KUBELET_DIR))

# Every suite runs, even after one failed; the failed ones are named at the end. Add a suite here.
SUITES := test-unit test-integration test-cluster sanity lint molecule bundle-validate

test: setup
	@failed=""; for suite in $(SUITES); do echo "== make $$suite"; start=$$(date +%s); \
	  $(MAKE) --no-print-directory $(addprefix -f ,$(MAKEFILE_LIST)) $$suite || failed="$$failed $$suite"; \
	  echo "== make $$suite: $$(( $$(date +%s) - start )) s"; done; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed (passed: the other suites of: $(SUITES))"; exit 1; fi; \
	echo "make test: all suites passed ($(SUITES))"

test-unit: setup
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

test-integration: setup
	$(PY) -m pytest -q -p no:cacheprovider tests/integration

# the 25 slowest steps (fixtures included) are printed: where CI's minutes go
test-cluster: setup
	@hack/cluster-tests.sh --durations=25

sanity: setup
	@hack/sanity.sh

lint: setup
	$(VENV)/bin/ansible-lint --profile production --offline

molecule: setup
	@hack/molecule.sh

bench: setup
	@hack/bench.sh

# The one image (OCI archive, no registry); `make images IMPORT=1` (or CLUSTER=path) loads it into the cluster.
images: setup
	@hack/build-image.sh $(if $(filter-out 0,$(IMPORT))$(CLUSTER),--import) $(if $(CLUSTER),--cluster $(CLUSTER))

# The OLM bundle (bundle/, bundle.Dockerfile): `kustomize build config/manifests | operator-sdk generate bundle`
# (hack/bundle.py, both tools pinned); commit the result (tests/unit/test_bundle.py checks it).
bundle: setup
	$(PY) hack/bundle.py

# `operator-sdk bundle validate ./bundle --select-optional suite=operatorframework`; any error or warning fails.
# operator-sdk is built once per pinned version from its Go module (hack/go_tools.py).
bundle-validate: setup
	$(PY) hack/bundle_validate.py bundle

# The pinned Go tools (hack/go_tools.py PINS), built into the cache and linked into .venv/bin.
TOOLS ?= operator-sdk
tools: setup
	$(PY) hack/go_tools.py $(TOOLS)

# OLM (v0) in the test cluster (hack/olm.py): OLM's own chart from its pinned module, images built here.
olm-install: setup
	$(PY) hack/olm.py install

# bundle/ as a bundle image and a file-based catalog served in the cluster (CatalogSource olm/security-profiles-operator).
olm-catalog: setup
	$(PY) hack/olm.py catalog

olm-uninstall: setup
	$(PY) hack/olm.py uninstall

clean:
	rm -rf $(VENV) .collections tests/output
