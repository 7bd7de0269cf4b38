"""Walks a secret through Key Vault's whole lifecycle with the unmodified
Azure SDK for Python: ClientSecretCredential + SecretClient, no client
options. Reads PY_TENANT_ID, PY_CLIENT_ID, PY_CLIENT_SECRET (kept off the
command line), PY_VAULT_URL and PY_SECRET_NAME; prints one JSON object with
what it observed, for the Go test to assert.
"""
import json
import os

from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient


def failure(call):
    """Runs call, which must fail; returns its status and error code."""
    try:
        call()
    except HttpResponseError as e:
        return {"status": e.status_code, "code": getattr(e.error, "code", None)}
    return {"status": 200, "code": None}


def main():
    cred = ClientSecretCredential(os.environ["PY_TENANT_ID"], os.environ["PY_CLIENT_ID"], os.environ["PY_CLIENT_SECRET"])
    client = SecretClient(os.environ["PY_VAULT_URL"], cred)
    name = os.environ["PY_SECRET_NAME"]
    out = {}

    v1 = client.set_secret(name, "first value")
    v2 = client.set_secret(name, "second value", content_type="text/plain", tags={"env": "e2e"})
    out["set"] = {"id": v2.id, "version": v2.properties.version, "content_type": v2.properties.content_type,
                  "tags": v2.properties.tags, "enabled": v2.properties.enabled}
    out["get_latest"] = client.get_secret(name).value
    out["get_v1"] = client.get_secret(name, v1.properties.version).value
    out["list"] = sorted(p.name for p in client.list_properties_of_secrets())
    out["versions"] = sorted(p.version for p in client.list_properties_of_secret_versions(name))
    out["want_versions"] = sorted([v1.properties.version, v2.properties.version])

    backup = client.backup_secret(name)
    out["backup_len"] = len(backup)

    deleted = client.begin_delete_secret(name).result()
    out["deleted"] = {"name": deleted.name, "recovery_id": deleted.recovery_id,
                      "has_deleted_date": deleted.deleted_date is not None,
                      "has_purge_date": deleted.scheduled_purge_date is not None}
    out["get_after_delete"] = failure(lambda: client.get_secret(name))
    out["get_deleted"] = client.get_deleted_secret(name).name
    out["list_deleted"] = sorted(d.name for d in client.list_deleted_secrets())

    recovered = client.begin_recover_deleted_secret(name).result()
    out["recovered"] = {"name": recovered.name, "value": client.get_secret(name).value}

    client.begin_delete_secret(name).result()
    client.purge_deleted_secret(name)
    out["get_deleted_after_purge"] = failure(lambda: client.get_deleted_secret(name))

    restored = client.restore_secret_backup(backup)
    out["restored"] = {"name": restored.name, "value": client.get_secret(name).value,
                       "versions": sorted(p.version for p in client.list_properties_of_secret_versions(name))}
    out["restore_again"] = failure(lambda: client.restore_secret_backup(backup))
    print(json.dumps(out))


main()
