#!/usr/bin/env bash
# The cluster suite (tests/cluster) against a real cluster.
#  - SPO_TEST_KUBECONFIG names a cluster: the suite runs against it as it is.
#  - else the project's test cluster (../shared/cluster/cluster, or SPO_CLUSTER) is started when it is
#    not up (afresh when it holds an earlier run's operator: hack/start-cluster.sh); the project's
#    image is built and imported, the suite runs inside the cluster's network namespace, and the cluster
#    is stopped again if this script started it (also when a test fails).
#  - with neither, the suite is skipped with that reason; in CI (CI=true) that is a failure.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY=.venv/bin/python
PYTEST=("$PY" -m pytest -q -p no:cacheprovider tests/cluster "$@")

if [[ -n "${SPO_TEST_KUBECONFIG:-}" ]]; then
  echo "cluster-tests: using the cluster of SPO_TEST_KUBECONFIG=$SPO_TEST_KUBECONFIG"
  KUBECONFIG="$SPO_TEST_KUBECONFIG" exec "${PYTEST[@]}"
fi

CLUSTER="${SPO_CLUSTER:-$ROOT/../shared/cluster/cluster}"
if [[ ! -x "$CLUSTER" ]]; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "cluster-tests: FAILED: no test cluster at $CLUSTER and no SPO_TEST_KUBECONFIG (CI must run this suite)" >&2
    exit 1
  fi
  echo "cluster-tests: skipped: no test cluster ($CLUSTER) and no SPO_TEST_KUBECONFIG"
  exit 0
fi

# OLM's images, helm and opm for tests/cluster/test_olm.py, built before the cluster starts (the Go module
# proxy is reachable from here, not from the cluster's network namespace)
# (cached by version: seconds when warm)
"$PY" hack/olm.py images
# shellcheck source=hack/start-cluster.sh
. "$ROOT/hack/start-cluster.sh"
started=0
stop_cluster() { if [[ $started == 1 ]]; then "$CLUSTER" stop || true; fi; }
trap stop_cluster EXIT
start_test_cluster
if [[ -f hack/build-image.sh ]]; then
  hack/build-image.sh --import --cluster "$CLUSTER"
fi
"$CLUSTER" exec env SPO_CLUSTER="$CLUSTER" "${PYTEST[@]}"
