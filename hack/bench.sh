#!/usr/bin/env bash
# `make bench`: every tests/bench/bench_*.py, each printing its figures beside a baseline from the same run.
# Host benchmarks (no `# bench: cluster` line) run first, before the project's test cluster is started: on a
# small machine an idle API server takes a large share of the CPU they time. The cluster benchmarks then run
# inside the cluster's network namespace with KUBECONFIG set (../shared/cluster/cluster, or SPO_CLUSTER): the
# cluster is started if it is down (and stopped again at the end) and the project's image is imported; those
# marked `# bench: operator` run twice: with SPO_BENCH_PART=host among the host benchmarks, and with
# SPO_BENCH_PART=cluster with the operator deployed (playbooks/deploy.yml; undeployed again afterwards unless it
# was deployed before): the operator's pods must not share the CPU with what the host part times. SPO_TEST_KUBECONFIG names another cluster instead (used as it is). Without
# either, the cluster figures say why they are skipped.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
status=0
run() {  # run BENCH with the command prefix given
  local b="$1"; shift
  echo "== $b"
  "$@" "$PY" "$b" || { echo "bench: $b FAILED"; status=1; }
}
host=() cluster=() operator=()
for b in tests/bench/bench_*.py; do
  if grep -q '^# bench: operator' "$b"; then operator+=("$b")
  elif grep -q '^# bench: cluster' "$b"; then cluster+=("$b")
  else host+=("$b"); fi
done

for b in "${host[@]}"; do run "$b" env; done
for b in "${operator[@]}"; do run "$b" env SPO_BENCH_PART=host; done

if [[ -n "${SPO_TEST_KUBECONFIG:-}" ]]; then
  for b in "${cluster[@]}"; do run "$b" env KUBECONFIG="$SPO_TEST_KUBECONFIG"; done
  for b in "${operator[@]}"; do run "$b" env KUBECONFIG="$SPO_TEST_KUBECONFIG" SPO_BENCH_PART=cluster; done
  exit $status
fi
CLUSTER="${SPO_CLUSTER:-$ROOT/../shared/cluster/cluster}"
if [[ ! -x "$CLUSTER" ]]; then
  echo "bench: no test cluster ($CLUSTER) and no SPO_TEST_KUBECONFIG: the cluster figures are skipped"
  for b in "${cluster[@]}"; do run "$b" env; done
  for b in "${operator[@]}"; do run "$b" env SPO_BENCH_PART=cluster; done
  exit $status
fi
started=0 deployed=0
playbook() {
  "$CLUSTER" exec env ANSIBLE_CONFIG="$ROOT/ansible.cfg" "$ROOT/.venv/bin/ansible-playbook" "playbooks/$1" >/dev/null
}
# on exit: undeploy what was deployed here, stop the cluster if it was started here
trap '{ [[ $deployed == 1 ]] && { playbook undeploy.yml || echo "bench: undeploy failed"; }; \
  [[ $started == 1 ]] && "$CLUSTER" stop >/dev/null 2>&1; } || true' EXIT
# shellcheck source=hack/start-cluster.sh
. "$ROOT/hack/start-cluster.sh"
start_test_cluster
hack/build-image.sh --import --cluster "$CLUSTER" >/dev/null
for b in "${cluster[@]}"; do run "$b" "$CLUSTER" exec env; done
if [[ ${#operator[@]} -gt 0 ]]; then
  if ! "$CLUSTER" exec kubectl get namespace security-profiles-operator >/dev/null 2>&1; then
    echo "== deploying the operator (playbooks/deploy.yml) for: ${operator[*]}"
    deployed=1
    playbook deploy.yml
  fi
  for b in "${operator[@]}"; do run "$b" "$CLUSTER" exec env SPO_BENCH_PART=cluster; done
fi
exit $status
