"""Seed the test cloud in one Python process (the `openstack` CLI costs ~2 s of start-up per call).

Usage: /usr/bin/python3 seed.py identity    catalog (image, placement, compute, network), projects
                                            `strata` and `strata-quota`, user `strata` (member of both),
                                            an application credential for strata@strata
       /usr/bin/python3 seed.py resources   flavors m1.tiny..m1.xlarge, images cirros-tiny and debian-12,
                                            quota instances=2 on `strata-quota`
Env (set by up.sh): KS_URL HOST REGION ADMIN_PASSWORD STRATA_PASSWORD APPCRED_SECRET SEED_OUT IMAGES_DIR
                    P_GLANCE P_PLACEMENT P_NOVA P_NEUTRON QUOTA_INSTANCES
SEED_OUT (JSON) receives the project, user and application credential IDs that up.sh writes into
clouds.yaml.
"""
import io
import json
import os
import struct
import sys

from keystoneauth1 import session
from keystoneauth1.identity import v3

E = os.environ
AUTH_URL = E["KS_URL"] + "/v3"
REGION = E["REGION"]

# (id, name, vCPUs, RAM MiB, disk GiB). Nova's FakeDriver reports 1000 vCPUs, 800000 MiB RAM and
# 600000 GiB disk per host, so every flavor fits many times over.
FLAVORS = [
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160),
]


def sess(user, password, project):
    return session.Session(auth=v3.Password(
        auth_url=AUTH_URL, username=user, password=password, project_name=project,
        user_domain_name="Default", project_domain_name="Default"))


def admin():
    return sess("admin", E["ADMIN_PASSWORD"], "admin")


def identity():
    from keystoneclient.v3 import client
    ks = client.Client(session=admin(), interface="public", region_name=REGION)
    h = E["HOST"]
    for name, typ, url in [
            ("glance", "image", "http://%s:%s" % (h, E["P_GLANCE"])),
            ("placement", "placement", "http://%s:%s" % (h, E["P_PLACEMENT"])),
            ("nova", "compute", "http://%s:%s/v2.1" % (h, E["P_NOVA"])),
            ("neutron", "network", "http://%s:%s" % (h, E["P_NEUTRON"]))]:
        svc = ks.services.create(name=name, type=typ)
        for iface in ("public", "internal", "admin"):
            ks.endpoints.create(service=svc, url=url, interface=iface, region=REGION)

    member = ks.roles.find(name="member")  # created by keystone-manage bootstrap (with reader, admin)
    projects = {}
    for name, desc in [("strata", "Strata acceptance tests (quotas unlimited)"),
                       ("strata-quota", "Strata quota tests (instances quota %s)" % E["QUOTA_INSTANCES"])]:
        projects[name] = ks.projects.create(name=name, domain="default", description=desc)
    user = ks.users.create(name="strata", domain="default", password=E["STRATA_PASSWORD"],
                           default_project=projects["strata"])
    for p in projects.values():
        ks.roles.grant(member, user=user, project=p)

    # An application credential is created by its owner, scoped to the owner's current project.
    uks = client.Client(session=sess("strata", E["STRATA_PASSWORD"], "strata"), interface="public",
                        region_name=REGION)
    ac = uks.application_credentials.create(name="strata-appcred", secret=E["APPCRED_SECRET"],
                                            description="Strata acceptance tests")
    projects["admin"] = ks.projects.find(name="admin")
    out = {"projects": {k: v.id for k, v in projects.items()}, "user_id": user.id, "appcred_id": ac.id}
    with open(E["SEED_OUT"], "w") as f:
        json.dump(out, f, indent=1)


def tiny_qcow2(virtual_size=64 << 20):
    """A valid, empty qcow2 (version 2, 4 KiB clusters): header, L1 table, refcount table and block:
    16 KiB on disk. The fake driver never reads it; qemu-img would accept it."""
    cb = 12
    cs = 1 << cb
    l1_size = -(-virtual_size // (cs * (cs // 8)))  # each L2 table maps cs/8 clusters
    hdr = struct.pack(">4sIQIIQIIQQIIQ", b"QFI\xfb", 2, 0, 0, cb, virtual_size, 0, l1_size,
                      1 * cs, 2 * cs, 1, 0, 0)
    img = bytearray(4 * cs)
    img[:len(hdr)] = hdr
    img[2 * cs:2 * cs + 8] = struct.pack(">Q", 3 * cs)  # refcount table -> refcount block
    for i in range(4):  # clusters 0..3 are in use, refcount 1 each (16-bit entries)
        img[3 * cs + 2 * i:3 * cs + 2 * i + 2] = struct.pack(">H", 1)
    return bytes(img)


def resources():
    from glanceclient import Client as Glance
    from novaclient import client as novaclient
    s = admin()
    nova = novaclient.Client("2.1", session=s, region_name=REGION)
    for fid, name, vcpus, ram, disk in FLAVORS:
        nova.flavors.create(name, ram, vcpus, disk, flavorid=fid, is_public=True)

    glance = Glance("2", session=s, region_name=REGION)
    images = [
        ("cirros-tiny", "raw", b"\0" * 4096, {"os_distro": "cirros"}),
        ("debian-12", "qcow2", tiny_qcow2(), {"os_distro": "debian", "os_version": "12"}),
    ]
    for name, fmt, data, props in images:
        img = glance.images.create(name=name, disk_format=fmt, container_format="bare",
                                   visibility="public", **props)
        glance.images.upload(img["id"], io.BytesIO(data))

    with open(E["SEED_OUT"]) as f:
        ids = json.load(f)
    nova.quotas.update(ids["projects"]["strata-quota"], instances=int(E["QUOTA_INSTANCES"]))


if __name__ == "__main__":
    {"identity": identity, "resources": resources}[sys.argv[1]]()
