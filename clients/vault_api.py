"""The few Vault HTTP API calls the operator commands make themselves (the program's own Vault calls go
through the Vault provider): list a role's secret-id accessors and destroy one, with the deploy token.

Plain urllib (no client library in the deploy's runtime); Vault's certificate is verified against the
system roots or, for a private CA, the PEM the stack's vaultCaCert carries.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from clients.net_errors import why_unreachable


class VaultAPIError(Exception):
    """A Vault call that failed: one line saying which call and Vault's own error."""


class VaultAPI:
    def __init__(self, address: str, token: str, ca_pem: str = "", timeout: float = 15):
        self.address, self.token, self.timeout = address.rstrip("/"), token, timeout
        self.context = ssl.create_default_context(cadata=ca_pem) if ca_pem else None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            f"{self.address}/v1/{path}",
            method=method,
            headers={"X-Vault-Token": self.token, "Content-Type": "application/json"},
            data=json.dumps(body).encode() if body is not None else None,
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw) if raw else {}
            except ValueError:
                return err.code, {"errors": [raw.decode(errors="replace")[:200]]}
        except (urllib.error.URLError, OSError) as err:
            raise VaultAPIError(f"{method} {path}: {why_unreachable(err)}") from None

    def _ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        status, answer = self.call(method, path, body)
        if status not in (200, 204):
            errors = "; ".join(str(e).replace("\n", " ").strip() for e in answer.get("errors") or []) or "no error text"
            raise VaultAPIError(f"{method} {path}: Vault answered {status}: {errors[:200]}")
        return answer


class SecretIds:
    """One AppRole mount's secret-ids, by accessor (the secret-ids themselves are never read)."""

    def __init__(self, api: VaultAPI, approle_mount: str):
        self.api, self.mount = api, approle_mount

    def list(self, role: str) -> list[str]:
        """Every secret-id accessor of `role` (LIST auth/<mount>/role/<role>/secret-id); none: []."""
        path = f"auth/{self.mount}/role/{urllib.parse.quote(role)}/secret-id?list=true"
        status, answer = self.api.call("GET", path)
        if status == 404:
            return []  # Vault answers 404 to a LIST with no key
        if status != 200:
            errors = "; ".join(str(e).strip() for e in answer.get("errors") or []) or "no error text"
            raise VaultAPIError(
                f"LIST auth/{self.mount}/role/{role}/secret-id: Vault answered {status}: {errors[:200]}"
            )
        return list((answer.get("data") or {}).get("keys") or [])

    def destroy(self, role: str, accessor: str) -> None:
        self.api._ok(
            "POST",
            f"auth/{self.mount}/role/{urllib.parse.quote(role)}/secret-id-accessor/destroy",
            {"secret_id_accessor": accessor},
        )
