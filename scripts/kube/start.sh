#!/usr/bin/env bash
# Runs a throwaway Kubernetes control plane on loopback: etcd (Debian's etcd-server),
# kube-apiserver with a token file and RBAC, and kube-controller-manager running only the
# garbage collector (for ownerReference cascades). Supervises them until SIGTERM or SIGINT,
# then stops them and removes the data directory.
#
#   start.sh [--dir DIR] [--apply PATH]... [--keep]
#
# --apply files/directories are applied in order once the apiserver is up (CRDs first, so the
# garbage collector starts with them known); CRDs are waited on until Established.
# When everything is up, DIR/ready appears holding JSON: the server URL and kubeconfig paths
# for four identities (admin; mitos-controller and mitos-node service-account users; and
# sandbox-user, bound in namespace default to the mitos-sandbox-user role when the manifests
# define it), so RBAC from the manifests is exercised. Ports are chosen free.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
log() { printf '[kube-start] %s\n' "$*" >&2; }

dir=""
keep=0
applies=()
while (($#)); do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    --apply) applies+=("$2"); shift 2 ;;
    --keep) keep=1; shift ;;
    *) log "unknown argument $1"; exit 2 ;;
  esac
done

bin=$("$here/build.sh" | tail -1)
command -v openssl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >&2
[[ -n $dir ]] || dir=$(mktemp -d /tmp/mitos-kube.XXXXXX)
mkdir -p "$dir"/{etcd,certs,pki,logs}

pids=()
cleanup() {
  trap - EXIT INT TERM
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((keep == 0)); then rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 0' INT TERM

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
etcd_client=$(free_port)
etcd_peer=$(free_port)
api_port=$(free_port)
server="https://127.0.0.1:$api_port"

# A private CA, a serving certificate for 127.0.0.1, and the service-account signing key.
pki=$dir/pki
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mitos-test-ca \
  -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout "$pki/apiserver.key" \
  -out "$pki/apiserver.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' >"$pki/san.ext"
openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
  -days 2 -extfile "$pki/san.ext" -out "$pki/apiserver.crt" 2>/dev/null
openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null

token() { openssl rand -hex 24; }
admin_token=$(token)
controller_token=$(token)
node_token=$(token)
gc_token=$(token)
user_token=$(token)
{
  echo "$admin_token,admin,admin,system:masters"
  echo "$controller_token,system:serviceaccount:mitos-system:mitos-controller,mitos-controller,\"system:serviceaccounts,system:serviceaccounts:mitos-system,system:authenticated\""
  echo "$node_token,system:serviceaccount:mitos-system:mitos-node,mitos-node,\"system:serviceaccounts,system:serviceaccounts:mitos-system,system:authenticated\""
  echo "$gc_token,system:kube-controller-manager,kcm,system:masters"
  echo "$user_token,sandbox-user,sandbox-user,system:authenticated"
} >"$pki/tokens.csv"
chmod 600 "$pki/tokens.csv"

kubeconfig() { # file user token
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
  - name: mitos-test
    cluster: { server: "$server", certificate-authority: "$pki/ca.crt" }
users:
  - name: $2
    user: { token: "$3" }
contexts:
  - name: $2@mitos-test
    context: { cluster: mitos-test, user: $2, namespace: default }
current-context: $2@mitos-test
KC
  chmod 600 "$1"
}
kubeconfig "$dir/admin.kubeconfig" admin "$admin_token"
kubeconfig "$dir/controller.kubeconfig" mitos-controller "$controller_token"
kubeconfig "$dir/node.kubeconfig" mitos-node "$node_token"
kubeconfig "$dir/gc.kubeconfig" kube-controller-manager "$gc_token"
kubeconfig "$dir/user.kubeconfig" sandbox-user "$user_token"
kubectl=("$bin/kubectl" --kubeconfig "$dir/admin.kubeconfig")

log "etcd on 127.0.0.1:$etcd_client"
etcd --name mitos-test --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_client" --advertise-client-urls "http://127.0.0.1:$etcd_client" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
  --initial-cluster "mitos-test=http://127.0.0.1:$etcd_peer" >"$dir/logs/etcd.log" 2>&1 &
pids+=($!)

log "kube-apiserver on $server"
# --allow-privileged as on real clusters: the node daemon's DaemonSet is privileged.
"$bin/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$etcd_client" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --token-auth-file "$pki/tokens.csv" --authorization-mode RBAC \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-account-issuer https://kubernetes.default.svc \
  --service-cluster-ip-range 10.96.0.0/16 --cert-dir "$dir/certs" \
  --allow-privileged=true --enable-priority-and-fairness=false >"$dir/logs/kube-apiserver.log" 2>&1 &
pids+=($!)

for i in $(seq 1 120); do
  if "${kubectl[@]}" get --raw /readyz >/dev/null 2>&1; then break; fi
  if ! kill -0 "${pids[1]}" 2>/dev/null; then
    tail -30 "$dir/logs/kube-apiserver.log" >&2
    exit 1
  fi
  sleep 0.5
done
"${kubectl[@]}" get --raw /readyz >/dev/null
# The namespace the controller, the node daemons and their Leases live in.
"${kubectl[@]}" create namespace mitos-system >/dev/null

for path in "${applies[@]}"; do
  log "applying $path"
  if [[ -d $path && -f $path/kustomization.yaml ]]; then
    "${kubectl[@]}" apply -k "$path" >&2
  else
    "${kubectl[@]}" apply -f "$path" >&2
  fi
done
if "${kubectl[@]}" get crd -o name 2>/dev/null | grep -q .; then
  "${kubectl[@]}" wait --for condition=established --timeout 60s crd --all >&2
fi
# An SDK user holds only what the applied manifests grant SDK users, in namespace default.
if "${kubectl[@]}" get clusterrole mitos-sandbox-user >/dev/null 2>&1; then
  "${kubectl[@]}" create rolebinding sandbox-user --clusterrole mitos-sandbox-user --user sandbox-user \
    --namespace default >/dev/null
fi

log "kube-controller-manager (garbage collector only)"
"$bin/kube-controller-manager" --kubeconfig "$dir/gc.kubeconfig" \
  --controllers garbagecollector --leader-elect=false --use-service-account-credentials=false \
  --bind-address 127.0.0.1 --secure-port 0 --port 0 >"$dir/logs/kube-controller-manager.log" 2>&1 &
pids+=($!)

cat >"$dir/ready.tmp" <<JSON
{"server":"$server","dir":"$dir","bin":"$bin",
 "kubeconfig":"$dir/admin.kubeconfig","controllerKubeconfig":"$dir/controller.kubeconfig",
 "nodeKubeconfig":"$dir/node.kubeconfig","userKubeconfig":"$dir/user.kubeconfig"}
JSON
mv "$dir/ready.tmp" "$dir/ready"
log "ready: KUBECONFIG=$dir/admin.kubeconfig"

# Stay up while every component is; if one dies, take the rest down too.
while :; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "a component exited; see $dir/logs"
      exit 1
    fi
  done
  sleep 1
done
