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
cd "$DEST"
"$ROOT/.venv/bin/ansible-test" sanity --python 3.11 --requirements --color no "$@"
