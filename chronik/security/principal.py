"""Kafka principals: `User:<name>`, and the subject DN of a TLS client certificate.

Kafka's DefaultKafkaPrincipalBuilder names a TLS client `User:<DN>` where
the DN is Java's `X500Principal.getName()` (RFC 2253: the most specific
RDN first, `CN=alice,OU=dev,O=Example`). Without a certificate (or on a
plaintext listener) the principal is `User:ANONYMOUS`.
"""

from __future__ import annotations

from typing import Any

ANONYMOUS = "User:ANONYMOUS"

# The attribute keywords RFC 2253 (and Java) know; others are printed by OID-ish name.
_KEYWORDS = {
    "commonName": "CN", "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST",
    "organizationName": "O", "organizationalUnitName": "OU", "domainComponent": "DC", "userId": "UID",
    "streetAddress": "STREET",
}


def _escape(value: str) -> str:
    out = []
    for i, ch in enumerate(value):
        if ch in ',+"\\<>;' or (ch == "#" and i == 0) or (ch == " " and i in (0, len(value) - 1)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def subject_dn(cert: dict[str, Any]) -> str:
    """RFC 2253 DN of the subject of `ssl.SSLObject.getpeercert()`'s dict."""
    rdns = []
    for rdn in reversed(cert.get("subject", ())):
        rdns.append("+".join(f"{_KEYWORDS.get(k, k)}={_escape(v)}" for k, v in rdn))
    return ",".join(rdns)


def user(name: str) -> str:
    return f"User:{name}"


def parse(principal: str) -> tuple[str, str]:
    """('User', 'alice') from 'User:alice'; ValueError when there is no type."""
    kind, sep, name = principal.partition(":")
    if not sep or not kind or not name:
        raise ValueError(f"Could not parse principal from `{principal}` (no colon is found between "
                         "the principal type and the principal name)")
    return kind, name
