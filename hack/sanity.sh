#!/usr/bin/env bash
# ansible-test sanity needs the collection at .../ansible_collections/<ns>/<name>
# as a real directory: copy the files git knows (tracked and untracked, not
# ignored) there and run it with the venv's Python.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
DEST="$WORK/ansible_collections/spo/security_profiles"
mkdir -p "$DEST"
cd "$ROOT"
git ls-files -z --cached --others --exclude-standard | rsync -a --from0 --files-from=- ./ "$DEST/"
# ansible-test bootstraps pip in its venvs with a script from a host that is
# not reachable here: give it our stand-in (hack/ansible_test_get_pip.py).
PIP_VERSION="$("$ROOT/.venv/bin/python" -c 'import re,ansible_test,os; p=os.path.join(os.path.dirname(ansible_test.__file__),"_internal","python_requirements.py"); print(re.search(r"pip=.([0-9.]+).,", open(p).read()).group(1))')"
CACHE="$HOME/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py"
mkdir -p "$(dirname "$CACHE")"
cp "$ROOT/hack/ansible_test_get_pip.py" "$CACHE"
cd "$DEST"
"$ROOT/.venv/bin/ansible-test" sanity --venv --requirements --python 3.11 --color no "$@"
