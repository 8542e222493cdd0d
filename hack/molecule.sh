#!/usr/bin/env bash
# Run every molecule scenario (molecule/<name>/molecule.yml) with `molecule test`.
# Exits non-zero if any scenario fails; runs them all and names the failures.
#   hack/molecule.sh              all scenarios
#   hack/molecule.sh default      only the named ones
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT" || exit 1
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$ROOT/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.collections"
# The scenarios live in molecule/ at the collection root (not extensions/molecule/).
export MOLECULE_GLOB="molecule/*/molecule.yml"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1

if (($#)); then
  scenarios=("$@")
else
  scenarios=()
  for file in molecule/*/molecule.yml; do
    [[ -f "$file" ]] || continue
    name="$(basename "$(dirname "$file")")"
    # the cluster scenario runs inside the cluster suite (tests/cluster), where a cluster is up
    if [[ "$name" == cluster && "${SPO_MOLECULE_CLUSTER:-}" != 1 ]]; then
      echo "molecule: scenario cluster runs in the cluster suite (make test-cluster)"
      continue
    fi
    scenarios+=("$name")
  done
fi
if ((${#scenarios[@]} == 0)); then
  echo "molecule: no scenarios found under molecule/" >&2
  exit 1
fi

failed=()
for scenario in "${scenarios[@]}"; do
  echo "=== molecule test -s $scenario"
  if ! molecule test -s "$scenario"; then
    failed+=("$scenario")
  fi
done
if ((${#failed[@]})); then
  echo "molecule: FAILED scenarios: ${failed[*]}" >&2
  exit 1
fi
echo "molecule: all scenarios passed (${scenarios[*]})"
