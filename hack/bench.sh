#!/usr/bin/env bash
# `make bench`: every tests/bench/bench_*.py, each printing its figures beside a baseline from the same run.
# When the project's test cluster is at hand (../shared/cluster/cluster, or SPO_CLUSTER), the benchmarks run
# inside its network namespace with KUBECONFIG set (the cluster figures need it; the others do not mind): the
# cluster is started if it is down (and stopped again at the end) and the project's image is imported.
# SPO_TEST_KUBECONFIG names another cluster instead. Without either, the cluster figures say why they are skipped.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
run_all() {
  local status=0 b
  for b in tests/bench/bench_*.py; do
    echo "== $b"
    "$@" "$PY" "$b" || { echo "bench: $b FAILED"; status=1; }
  done
  return $status
}

if [[ -n "${SPO_TEST_KUBECONFIG:-}" ]]; then
  run_all env KUBECONFIG="$SPO_TEST_KUBECONFIG"
  exit
fi
CLUSTER="${SPO_CLUSTER:-$ROOT/../shared/cluster/cluster}"
if [[ ! -x "$CLUSTER" ]]; then
  echo "bench: no test cluster ($CLUSTER) and no SPO_TEST_KUBECONFIG: the cluster figures are skipped"
  run_all env
  exit
fi
started=0
trap '[[ $started == 1 ]] && "$CLUSTER" stop >/dev/null 2>&1 || true' EXIT
if ! "$CLUSTER" status >/dev/null 2>&1; then
  "$CLUSTER" start >/dev/null
  started=1
fi
hack/build-image.sh --import --cluster "$CLUSTER" >/dev/null
run_all "$CLUSTER" exec env
