"""Reads a secret the way an unmodified program on Azure does.

Usage: read_secret.py CREDENTIAL NAME [VAULT_URL [VALUE]]

CREDENTIAL is "default" (DefaultAzureCredential: whatever the environment
provides) or "managed-identity" (ManagedIdentityCredential: IMDS on a VM).
An empty or missing VAULT_URL means $COFFER_VAULT_URL (printed by
`coffer env`). With VALUE the program first stores it under NAME. Prints
one JSON object.
"""
import json
import os
import sys

from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient


def main():
    kind, name = sys.argv[1], sys.argv[2]
    vault = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else os.environ["COFFER_VAULT_URL"]
    cred = {"default": DefaultAzureCredential, "managed-identity": ManagedIdentityCredential}[kind]()
    client = SecretClient(vault, cred)
    if len(sys.argv) > 4:
        client.set_secret(name, sys.argv[4])
    s = client.get_secret(name)
    print(json.dumps({"id": s.id, "value": s.value, "enabled": s.properties.enabled}))


main()
