#!/bin/sh
# Checks contrib/: the Grafana dashboard is JSON Grafana can import (a
# title, a uid, panels with Prometheus queries), and every meshq_ series
# the dashboard and the alert rules read is in docs/OPERATIONS.md's
# table and, once the agent serves /metrics (agents/http/), is one the
# agent writes.
# Usage: contrib.sh SOURCE_DIR
set -eu
source=$1
fail=0
dashboard="$source/contrib/grafana/meshq-dashboard.json"
alerts="$source/contrib/prometheus/meshq-alerts.yml"

/usr/bin/python3 - "$dashboard" <<'PY' || fail=1
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
assert d.get("title") and d.get("uid"), "no title or uid"
targets = [t for p in d["panels"] for t in p.get("targets", [])]
assert targets, "no queries"
for t in targets:
    assert "meshq_" in t["expr"] or "up{" in t["expr"], t["expr"]
ids = [p["id"] for p in d["panels"]]
assert len(ids) == len(set(ids)), "duplicate panel ids"
PY

# The YAML files parse, and the manifest holds what docs/OPERATIONS.md
# says: a headless Service and a DaemonSet whose agents seed from its
# name and serve clients over ipc:// on a hostPath.
/usr/bin/python3 - "$source/contrib" <<'PY' || fail=1
import sys, yaml
root = sys.argv[1]
for name in ("prometheus/prometheus.yml", "prometheus/meshq-alerts.yml"):
    with open(f"{root}/{name}") as f:
        assert yaml.safe_load(f), name
with open(f"{root}/kubernetes/meshq.yaml") as f:
    docs = [d for d in yaml.safe_load_all(f) if d]
kinds = {d["kind"]: d for d in docs}
service, daemonset = kinds["Service"], kinds["DaemonSet"]
assert service["spec"]["clusterIP"] == "None", "the Service is not headless"
pod = daemonset["spec"]["template"]["spec"]
args = pod["containers"][0]["args"]
name = service["metadata"]["name"] + "." + service["metadata"]["namespace"]
assert any(a.startswith("--seeds=tcp://" + name + ".") for a in args), args
assert any(a.startswith("--control=ipc://") for a in args), args
assert any(v.get("hostPath", {}).get("path") == "/run/meshq"
           for v in pod["volumes"]), "no hostPath for the ipc endpoint"
PY

# Series names, without a histogram's or summary's suffix.
names=$(cat "$dashboard" "$alerts" | grep -oE 'meshq_[a-z_]+' \
        | sed -E 's/_(bucket|sum|count)$//' | sort -u)
for name in $names; do
    if ! grep -q "\`$name\`" "$source/docs/OPERATIONS.md"; then
        echo "$name: read by contrib/, not in docs/OPERATIONS.md's table"
        fail=1
    fi
    if [ -d "$source/agents/http" ] && \
       ! grep -rqF "\"$name" "$source/agents/http"; then
        echo "$name: read by contrib/, never written by agents/http"
        fail=1
    fi
done
[ "$fail" -eq 0 ] && echo "contrib: ok ($(echo "$names" | wc -l) series)"
exit "$fail"
