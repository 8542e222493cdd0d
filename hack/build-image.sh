#!/usr/bin/env bash
# `make images`: build localhost/spo/security-profiles-operator:<hash> (and :dev) as an OCI archive
# without a registry (Debian packages via mmdebstrap + the project's files), cached by content in
# ${SPO_IMAGE_CACHE:-/var/cache/spo-images}.  --import loads it into the test cluster.
# Details: hack/build_image.py; the image's layout: images/README.md.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python3}"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || PY="$ROOT/.venv/bin/python"
exec "$PY" "$ROOT/hack/build_image.py" "$@"
