#!/usr/bin/env bash
# Validates the deploy/ manifests against a real kube-apiserver: helm lint, helm template, and
# a server-side dry-run apply of both the rendered chart and the kustomize base (after the
# generated CRDs are installed, so the apiserver checks every object it would create).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
log() { printf '[validate-deploy] %s\n' "$*" >&2; }

helm=$("$here/helm.sh")
bin=$("$here/build.sh" | tail -1)
# Kustomize: the kubectl on PATH when it is new enough for `labels:` (>= 1.21), else ours.
kustomize=("$bin/kubectl" kustomize)
if command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1; then kustomize=(kubectl kustomize); fi

work=$(mktemp -d /tmp/mitos-test-validate-XXXXXX)
"$here/start.sh" --dir "$work/kube" --apply "$root/deploy/crds" >"$work/start.log" 2>&1 &
start_pid=$!
cleanup() {
  kill -TERM "$start_pid" 2>/dev/null || true
  wait "$start_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 360); do
  [[ -f $work/kube/ready ]] && break
  kill -0 "$start_pid" 2>/dev/null || { cat "$work/start.log" >&2; exit 1; }
  sleep 0.5
done
[[ -f $work/kube/ready ]] || { log "control plane not ready"; exit 1; }
kubectl=("$bin/kubectl" --kubeconfig "$work/kube/admin.kubeconfig")

log "helm lint"
"$helm" lint --strict "$root/deploy/helm/mitos" >&2
log "helm template | kubectl apply --dry-run=server"
"$helm" template mitos "$root/deploy/helm/mitos" --namespace mitos-system --include-crds \
  --set node.labels.tier=gold >"$work/chart.yaml"
"${kubectl[@]}" apply --dry-run=server -f "$work/chart.yaml" >&2
log "kustomize base | kubectl apply --dry-run=server"
"${kustomize[@]}" "$root/deploy/kustomize/base" >"$work/kustomize.yaml"
"${kubectl[@]}" apply --dry-run=server -f "$work/kustomize.yaml" >&2
log "all manifests accepted"
