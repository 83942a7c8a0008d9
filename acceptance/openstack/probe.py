"""Fast health probes for the test cloud (standard library only, so it starts in milliseconds).

Usage: /usr/bin/python3 probe.py health N     all APIs answer and >= N nova-compute services are up
       /usr/bin/python3 probe.py computes N   >= N computes are up, listed as hypervisors and present in
                                              Placement with inventory (i.e. schedulable)
Env:   KS_URL (http://127.0.0.1:5000), ADMIN_PASSWORD. Exit 0 = yes; otherwise prints why and exits 1.
Used by up.sh (fast re-run check, readiness waits).
"""
import json
import os
import sys
import urllib.request

KS = os.environ.get("KS_URL", "http://127.0.0.1:5000")
TIMEOUT = 5


def call(url, token=None, body=None, headers=None):
    h = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        h["X-Auth-Token"] = token
    h.update(headers or {})
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body else None, headers=h)
    with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
        return r.headers, json.loads(r.read() or b"{}")


def token():
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"name": "Default"}, "password": os.environ["ADMIN_PASSWORD"]}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
    headers, data = call(KS + "/v3/auth/tokens", body=body)
    endpoints = {}
    for svc in data["token"].get("catalog", []):
        for ep in svc["endpoints"]:
            if ep["interface"] == "public":
                endpoints[svc["type"]] = ep["url"].rstrip("/")
    return headers["X-Subject-Token"], endpoints


def up_computes(tok, ep):
    _, d = call(ep["compute"] + "/os-services?binary=nova-compute", tok)
    return [s["host"] for s in d["services"] if s["state"] == "up" and s["status"] == "enabled"]


def health(n):
    tok, ep = token()
    for t in ("compute", "image", "network", "placement"):
        if t not in ep:
            return "no %s endpoint in the catalog" % t
    call(ep["image"] + "/v2/images?limit=1", tok)
    call(ep["network"] + "/v2.0/networks?limit=1", tok)
    call(ep["placement"] + "/resource_providers", tok)
    up = up_computes(tok, ep)
    if len(up) < n:
        return "%d of %d nova-compute services up" % (len(up), n)
    return None


def computes(n):
    tok, ep = token()
    up = up_computes(tok, ep)
    if len(up) < n:
        return "%d of %d nova-compute services up" % (len(up), n)
    _, d = call(ep["compute"] + "/os-hypervisors", tok)
    hyp = [h for h in d["hypervisors"] if h.get("state", "up") == "up"]
    if len(hyp) < n:
        return "%d of %d hypervisors" % (len(hyp), n)
    _, d = call(ep["placement"] + "/resource_providers", tok)
    ready = 0
    for rp in d["resource_providers"]:
        _, inv = call(ep["placement"] + "/resource_providers/%s/inventories" % rp["uuid"], tok)
        ready += "VCPU" in inv.get("inventories", {})
    if ready < n:
        return "%d of %d resource providers with inventory" % (ready, n)
    return None


def main():
    what, n = sys.argv[1], int(sys.argv[2])
    try:
        why = {"health": health, "computes": computes}[what](n)
    except Exception as e:  # connection refused, HTTP errors, bad JSON: all mean "not (yet) healthy"
        why = "%s: %s" % (type(e).__name__, e)
    if why:
        print(why)
        sys.exit(1)


if __name__ == "__main__":
    main()
