#!/usr/bin/env bash
# Deploy Kith with kustomize: migrate first, then everything else (deploy.md §3).
#
#   deploy/k8s/deploy.sh dev|prod|<path to a kustomization>
#
# 1. create the namespace (Pod Security "restricted" enforced) if it is missing;
# 2. prod: refuse to go on without the Secret kith-secrets (it is not in git);
# 3. apply the config (ConfigMap, generated Secret) and the migration Job alone, after deleting
#    the previous Job (a Job's pod template is immutable);
# 4. wait for `kith migrate` to complete (fail fast if the Job fails);
# 5. apply the rest and wait for the rollouts.
# Environment: NAMESPACE (default kith, must match the overlay's `namespace:`), KUBECTL
# (default kubectl), MIGRATE_TIMEOUT (default 600s, the Job's activeDeadlineSeconds),
# ROLLOUT_TIMEOUT (default 300s).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="${1:-}"
case "$target" in
  "") echo "usage: $0 dev|prod|<kustomization dir>" >&2; exit 2 ;;
  dev|prod) dir="$here/overlays/$target" ;;
  *) dir="$target" ;;
esac
[ -f "$dir/kustomization.yaml" ] || { echo "no kustomization.yaml in $dir" >&2; exit 2; }

ns="${NAMESPACE:-kith}"
kubectl="${KUBECTL:-kubectl}"
migrate_timeout="${MIGRATE_TIMEOUT:-600s}"
rollout_timeout="${ROLLOUT_TIMEOUT:-300s}"

log() { printf '==> %s\n' "$*" >&2; }

log "namespace $ns"
"$kubectl" create namespace "$ns" --dry-run=client -o yaml | "$kubectl" apply -f -
"$kubectl" label namespace "$ns" --overwrite \
  pod-security.kubernetes.io/enforce=restricted \
  pod-security.kubernetes.io/enforce-version=latest >/dev/null

rendered="$(mktemp)"
trap 'rm -f "$rendered"' EXIT
"$kubectl" kustomize "$dir" >"$rendered"

if ! grep -q '^kind: Secret$' "$rendered"; then
  if ! "$kubectl" -n "$ns" get secret kith-secrets >/dev/null 2>&1; then
    echo "Secret kith-secrets is missing in namespace $ns; create it first (deploy/README.md)" >&2
    exit 1
  fi
fi

log "config and migration"
"$kubectl" -n "$ns" delete job kith-migrate --ignore-not-found --wait=true
"$kubectl" apply -f "$rendered" -l 'app.kubernetes.io/component in (config,migrate)'

log "waiting for job/kith-migrate (timeout $migrate_timeout)"
"$kubectl" -n "$ns" wait --for=condition=complete job/kith-migrate --timeout="$migrate_timeout" &
complete_pid=$!
"$kubectl" -n "$ns" wait --for=condition=failed job/kith-migrate --timeout="$migrate_timeout" &
failed_pid=$!
set +e
wait -n "$complete_pid" "$failed_pid"
set -e
kill "$complete_pid" "$failed_pid" 2>/dev/null || true
wait "$complete_pid" "$failed_pid" 2>/dev/null || true
if [ "$("$kubectl" -n "$ns" get job kith-migrate -o jsonpath='{.status.succeeded}')" != "1" ]; then
  echo "kith migrate did not complete; its log:" >&2
  "$kubectl" -n "$ns" logs job/kith-migrate --tail=100 >&2 || true
  exit 1
fi

log "everything else"
"$kubectl" apply -f "$rendered"

for deploy in kith-gateway kith-importer kith-dedup kith-photos kith-reset; do
  "$kubectl" -n "$ns" rollout status "deployment/$deploy" --timeout="$rollout_timeout"
done
log "done: $("$kubectl" -n "$ns" get ingress kith-gateway -o jsonpath='{.spec.rules[0].host}' 2>/dev/null || true)"
