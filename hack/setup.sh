#!/usr/bin/env bash
# Idempotent set-up for `make test` / `make demo` on Debian 12 (root).
#  1. Debian packages the real-component tests and the demo need.
#  2. .venv with the pinned Python dependencies (requirements.txt).
#  3. The collection made visible to Ansible (.collections, named by ansible.cfg)
#     and to the venv's Python (a .pth file), the project's commands
#     (spo-selinuxd, spo-enricher) installed into .venv/bin, and the audit
#     parser's optional C speed-up (native/) built into the venv.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

APT_PACKAGES=(
  runc busybox-static libseccomp2 python3-seccomp auditd
  policycoreutils selinux-policy-default secilc setools semodule-utils
  systemd git make python3-venv rsync procps shellcheck
  gcc libc6-dev python3-dev bpftrace
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages (${missing[*]}); run as root" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
stamp=".venv/.requirements.sha256"
want="$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [[ ! -x .venv/bin/python || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "setup: creating .venv with pinned requirements"
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade "pip==24.3.1" >/dev/null
  .venv/bin/pip install -q -r requirements.txt
  .venv/bin/pip install -q --no-deps --no-build-isolation -e .
  rm -f .venv/.native.sha256
  echo "$want" > "$stamp"
fi

native_stamp=".venv/.native.sha256"
native_want="$(cat native/pyproject.toml native/spo_linecut.c | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$native_stamp" || "$(cat "$native_stamp")" != "$native_want" ]]; then
  echo "setup: building the audit parser's C speed-up (native/)"
  .venv/bin/pip install -q --no-deps --no-build-isolation --force-reinstall ./native
  if .venv/bin/python -c 'import spo_linecut' 2>/dev/null; then
    echo "$native_want" > "$native_stamp"
  else
    echo "setup: the C speed-up did not build (no C compiler?): the audit parser runs in pure Python" >&2
  fi
fi

mkdir -p .collections/ansible_collections/spo
link=.collections/ansible_collections/spo/security_profiles
if [[ "$(readlink "$link" 2>/dev/null)" != "$ROOT" ]]; then
  rm -rf "$link"
  ln -s "$ROOT" "$link"
fi
site="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$ROOT/.collections" > "$site/spo_security_profiles_collection.pth"
