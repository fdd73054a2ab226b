#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kubectl from Debian's `kubernetes` source
# package, offline apart from the Debian mirror, with Debian's Go. The binaries are cached under
# $MITOS_KUBE_CACHE (default /var/cache/mitos/kube)/<debian source version>/ and never go into
# the repository. Idempotent and safe to run concurrently: a finished cache is reused, and a
# lock serialises builders. Prints the cache directory as the last line of stdout.
# Exit 2: the source package cannot be resolved (no mirror, nothing cached); exit 3: build
# dependencies are missing and this is not root. Either means "cannot build on this machine".
#
# Why each unusual step (see docs/platform-notes section 6):
#  - a private deb-src list, so the host's apt configuration is left untouched;
#  - GOPATH mode (GO111MODULE=off): the 1.20 tree builds from its vendor/ directory that way;
#  - reflect2 1.0.2 from Debian replaces the vendored 1.0.1, which crashes the apiserver on the
#    first custom-resource create under Go 1.19;
#  - the vendored OpenAPI validators treat an empty string as null when built with Go >= 1.18
#    (their zero-value test compares reflect.Values, and the runtime now backs "" and
#    reflect.Zero with the same static buffer), so custom resources holding "" were rejected;
#    only a real null counts as null after the patch, as in later kube-openapi releases;
#  - an explicit version file, because there is no .git to derive the version from and
#    clients (kubectl, client libraries) read /version.
#
# RECIPE names this script's build steps; a cached build made by another recipe is rebuilt.
set -euo pipefail

log() { printf '[kube-build] %s\n' "$*" >&2; }

CACHE_ROOT=${MITOS_KUBE_CACHE:-/var/cache/mitos/kube}
RECIPE=2
TARGETS=(cmd/kube-apiserver cmd/kube-controller-manager cmd/kubectl)
BINARIES=(kube-apiserver kube-controller-manager kubectl)
DEBS=(golang-go golang-github-modern-go-reflect2-dev etcd-server dpkg-dev make rsync jq)

mkdir -p "$CACHE_ROOT"
work=$(mktemp -d /tmp/mitos-kube-build.XXXXXX)
trap 'rm -rf "$work"' EXIT

missing=()
for deb in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q 'ok installed' || missing+=("$deb")
done
if ((${#missing[@]} > 0)); then
  if ((EUID != 0)); then
    log "missing Debian packages ${missing[*]} and not root to install them"
    exit 3
  fi
  log "installing ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The mirror the host already trusts, as a deb-src list that only this script sees.
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null |
  sed -nE 's,^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)(https?://[^[:space:]]*/debian)/?([[:space:]].*)?$,\3,p' |
  head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mkdir -p "$work/apt/lists/partial"
cat >"$work/apt/sources.list" <<LIST
deb-src [signed-by=$keyring] $mirror bookworm main
deb-src [signed-by=$keyring] $mirror bookworm-updates main
deb-src [signed-by=$keyring] ${mirror%/debian}/debian-security bookworm-security main
LIST
APT_OPTS=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/apt/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)

version=""
if apt-get "${APT_OPTS[@]}" update -qq >&2 2>"$work/apt-update.log"; then
  # An update that fetched no source lists (mirror unreachable) leaves showsrc failing: no version.
  version=$(apt-cache "${APT_OPTS[@]}" showsrc kubernetes 2>/dev/null | awk '/^Version:/ {print $2}' | sort -V | tail -1 || true)
fi
if [[ -z $version ]]; then
  # No mirror: fall back to the newest finished build of this recipe, so an offline rerun works.
  cached=$(grep -l "\"recipe\":$RECIPE[,}]" "$CACHE_ROOT"/*/.complete 2>/dev/null | xargs -r -n1 dirname | sort -V | tail -1)
  if [[ -n $cached ]]; then
    log "mirror unreachable; using cached build $cached"
    echo "$cached"
    exit 0
  fi
  log "cannot resolve the kubernetes source package (mirror unreachable?)"
  cat "$work/apt-update.log" >&2
  exit 2
fi

out=$CACHE_ROOT/$version
complete() { [[ -f $out/.complete ]] && grep -q "\"recipe\":$RECIPE[,}]" "$out/.complete"; }
if complete; then
  echo "$out"
  exit 0
fi

exec 9>"$CACHE_ROOT/.build.lock"
log "waiting for the build lock"
flock 9
if complete; then
  echo "$out"
  exit 0
fi

started=$(date +%s)
log "fetching kubernetes $version source"
(cd "$work" && apt-get "${APT_OPTS[@]}" source -qq kubernetes >&2 2>"$work/source.log") || {
  cat "$work/source.log" >&2
  exit 1
}
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -1)

reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
rm -rf "$src/vendor/github.com/modern-go/reflect2"
cp -a "$reflect2" "$src/vendor/github.com/modern-go/reflect2"
for validator in vendor/k8s.io/kube-openapi/pkg/validation/validate/type.go vendor/github.com/go-openapi/validate/type.go; do
  sed -i 's/if data == nil || reflect.DeepEqual(reflect.Zero(reflect.TypeOf(data)), reflect.ValueOf(data)) {/if data == nil {/' \
    "$src/$validator"
  grep -q '^\s*if data == nil {$' "$src/$validator" || {
    log "could not patch $validator"
    exit 1
  }
done

upstream=${version#*really}
upstream=${upstream%%-*}
major=${upstream%%.*}
minor=${upstream#*.}
minor=${minor%%.*}
cat >"$work/version.env" <<VERSION
KUBE_GIT_COMMIT='debian-$version'
KUBE_GIT_TREE_STATE='clean'
KUBE_GIT_VERSION='v$upstream'
KUBE_GIT_MAJOR='$major'
KUBE_GIT_MINOR='$minor'
VERSION

log "building ${BINARIES[*]} (about 4 minutes on 2 cores)"
# (hack/lib/golang.sh points GOCACHE into _output, so the compile cache dies with $work.)
export GOPATH="$work/gopath" GO111MODULE=off CGO_ENABLED=0 GOFLAGS=
export HOME="$work/home" KUBE_GIT_VERSION_FILE="$work/version.env" KUBE_VERBOSE=0
mkdir -p "$GOPATH/src/k8s.io" "$HOME"
ln -s "$src" "$GOPATH/src/k8s.io/kubernetes"
(cd "$GOPATH/src/k8s.io/kubernetes" && make -s WHAT="${TARGETS[*]}" >"$work/make.log" 2>&1) || {
  tail -60 "$work/make.log" >&2
  exit 1
}

staging=$(mktemp -d "$CACHE_ROOT/.staging.XXXXXX")
chmod 755 "$staging"
for bin in "${BINARIES[@]}"; do
  install -m 0755 "$src/_output/bin/$bin" "$staging/$bin"
done
printf '{"debianVersion":"%s","kubernetesVersion":"v%s","recipe":%d,"buildSeconds":%d}\n' \
  "$version" "$upstream" "$RECIPE" "$(($(date +%s) - started))" >"$staging/.complete"
rm -rf "$out"
mv "$staging" "$out"
log "built in $(($(date +%s) - started)) s into $out"
echo "$out"
