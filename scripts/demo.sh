#!/usr/bin/env bash
# The demo behind `make demo`: the user's incident in the embedded sandbox, then the fix.
# Expects `make setup` to have run (the Makefile does that first).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
state=.sandbox
kubeconfig="$state/kubeconfig"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Start the sandbox cluster with the incident seeded (release local-llm, tts block as before the plan)"
python -m sandbox up --state-dir "$state" --seed incident --time-scale 300

revision=$(helm --kubeconfig "$kubeconfig" history local-llm --max 1 -o json | python -c 'import json, sys; print(json.load(sys.stdin)[-1]["revision"])')
if [ "$revision" -gt 1 ]; then
    # An earlier demo (or fix) already repaired this sandbox: there is no incident left to show.
    step "This sandbox was fixed before (release at revision $revision): the fix below is a rerun that changes nothing"
    echo "For the incident from the start: make sandbox-down && rm -rf $state && make demo"
    ./runner.py fix --diff
    exit 0
fi

step "The incident: the TTS pod restarts (waiting for its first crash)"
for _ in $(seq 1 120); do
    restarts=$(kubectl --kubeconfig "$kubeconfig" get pods -l app.kubernetes.io/component=tts \
        -o jsonpath='{.items[0].status.containerStatuses[0].restartCount}' 2>/dev/null || true)
    [ "${restarts:-0}" -ge 1 ] && break
    sleep 0.5
done
kubectl --kubeconfig "$kubeconfig" get pods -o wide
pod=$(kubectl --kubeconfig "$kubeconfig" get pods -l app.kubernetes.io/component=tts -o name | head -n 1)
if [ "${restarts:-0}" -ge 1 ]; then
    echo "last lines of the crashed container (kubectl logs --previous $pod):"
    kubectl --kubeconfig "$kubeconfig" logs --previous "$pod" | tail -n 3
fi

step "The fix: ./runner.py fix --diff (values.yaml tts block, helm upgrade, rollout, log, /health, speech)"
./runner.py fix --diff

step "After the fix"
kubectl --kubeconfig "$kubeconfig" get pods -o wide
echo "GET /health through the API server's service proxy:"
kubectl --kubeconfig "$kubeconfig" get --raw /api/v1/namespaces/default/services/local-llm-tts:8006/proxy/health
echo
helm --kubeconfig "$kubeconfig" history local-llm
echo
echo "The sandbox keeps running (make sandbox-down stops it). Run ./runner.py fix again: nothing changes."
