# shellcheck shell=bash
# Sourced by hack/cluster-tests.sh and hack/bench.sh: start_test_cluster starts the project's test cluster
# ($CLUSTER) when it is down and then sets started=1 (the caller stops it again at its end).
#
# A stopped test cluster may still hold what an interrupted run left behind. After a crash the kubelet can
# fail to tear down the old pods' volumes ("device or resource busy"), so the operator's namespace never
# goes and every deploy after it fails. When the started cluster holds the operator's namespace or CRDs, it
# is reset and started afresh (~40 s); SPO_CLUSTER_KEEP_STATE=1 keeps it as it is.
start_test_cluster() {
  "$CLUSTER" status >/dev/null 2>&1 && return 0
  echo "cluster: starting the test cluster"
  # set before the start: a start that fails half-way (daemons already running) is stopped by the caller too
  # shellcheck disable=SC2034  # read by the caller
  started=1
  "$CLUSTER" start >/dev/null
  [[ "${SPO_CLUSTER_KEEP_STATE:-}" == "1" ]] && return 0
  if "$CLUSTER" exec kubectl get namespace security-profiles-operator >/dev/null 2>&1 ||
     "$CLUSTER" exec kubectl get crd -o name | grep -q "security-profiles-operator.x-k8s.io"; then
    echo "cluster: it holds an earlier run's operator (namespace or CRDs): resetting it (SPO_CLUSTER_KEEP_STATE=1 keeps it)"
    "$CLUSTER" reset >/dev/null
    "$CLUSTER" start >/dev/null
  fi
}
