"""`chronik certs create DIR`: a development CA, a broker certificate and client certificates.

For trying SSL and SASL_SSL listeners on a laptop (never for production):
an EC P-256 CA, a broker certificate with `localhost` and `127.0.0.1`
subject alternative names, and one client certificate per `--client NAME`
(subject `CN=NAME,O=Chronik dev`, so its Kafka principal is
`User:CN=NAME,O=Chronik dev`). Prints the broker flags and the client
settings for librdkafka, the Java client and kafka-python.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from chronik.cli import app
from chronik.cli.state import CliError

certs_app = typer.Typer(help="Development TLS certificates (CA, broker, clients).", no_args_is_help=True)
app.add_typer(certs_app, name="certs")


def _name(cn: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Chronik dev"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path: Path, key) -> None:
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _write_cert(path: Path, cert) -> None:
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def make_certs(out: Path, clients: list[str], days: int = 825, hosts: list[str] | None = None) -> dict[str, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    out.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    until = now + datetime.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Chronik dev CA")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(until)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    paths = {"ca": out / "ca.pem", "ca_key": out / "ca.key"}
    _write_cert(paths["ca"], ca)
    _write_key(paths["ca_key"], ca_key)

    def issue(cn: str, usage, sans=None):
        key = ec.generate_private_key(ec.SECP256R1())
        b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_name).public_key(key.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(until)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return key, b.sign(ca_key, hashes.SHA256())

    sans: list = []
    for h in ["localhost", "127.0.0.1", "::1", *(hosts or [])]:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    key, cert = issue("localhost", ExtendedKeyUsageOID.SERVER_AUTH, sans)
    paths["broker"], paths["broker_key"] = out / "broker.pem", out / "broker.key"
    _write_cert(paths["broker"], cert)
    _write_key(paths["broker_key"], key)
    for client in clients:
        key, cert = issue(client, ExtendedKeyUsageOID.CLIENT_AUTH)
        paths[f"client:{client}"] = out / f"{client}.pem"
        _write_cert(out / f"{client}.pem", cert)
        _write_key(out / f"{client}.key", key)
    return paths


@certs_app.command("create")
def create(
    directory: Annotated[Path, typer.Argument(help="Where to write ca.pem, broker.pem/.key, NAME.pem/.key.")],
    client: Annotated[list[str] | None, typer.Option("--client", help="Client certificate CN; repeatable.")] = None,
    host: Annotated[list[str] | None, typer.Option("--host", help="Extra broker SAN (DNS name or IP).")] = None,
    days: Annotated[int, typer.Option("--days", min=1, help="Validity.")] = 825,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Make a development CA, a broker certificate (localhost, 127.0.0.1) and client certificates."""
    clients = client or ["client"]
    if (directory / "ca.pem").exists() and not force:
        raise CliError(f"{directory}/ca.pem exists; use --force to replace the certificates")
    p = make_certs(directory, clients, days, host)
    d = directory.resolve()
    c0 = clients[0]
    typer.echo(f"""Wrote {d}/ca.pem, broker.pem/.key, {', '.join(f'{c}.pem/.key' for c in clients)}

Broker:
  chronik integrated --listener SSL=SSL://127.0.0.1:9093 --listener SASL_SSL=SASL_SSL://127.0.0.1:9094 \\
    --tls-cert {p['broker']} --tls-key {p['broker_key']} --tls-ca {p['ca']} --tls-client-auth requested

Principal of {c0}'s certificate: User:CN={c0},O=Chronik dev

librdkafka (confluent-kafka, kcat -X):
  security.protocol=SSL
  ssl.ca.location={d}/ca.pem
  ssl.certificate.location={d}/{c0}.pem
  ssl.key.location={d}/{c0}.key

Java (client.properties; PEM stores, Kafka 2.7+):
  security.protocol=SSL
  ssl.truststore.type=PEM
  ssl.truststore.location={d}/ca.pem
  ssl.keystore.type=PEM
  ssl.keystore.location={d}/{c0}-keystore.pem   # cat {c0}.key {c0}.pem > {c0}-keystore.pem

kafka-python / aiokafka:
  security_protocol="SSL", ssl_cafile="{d}/ca.pem",
  ssl_certfile="{d}/{c0}.pem", ssl_keyfile="{d}/{c0}.key"

For SASL_SSL use security.protocol=SASL_SSL with the CA only, plus the SASL settings.""")
    keystore = d / f"{c0}-keystore.pem"
    keystore.write_bytes((d / f"{c0}.key").read_bytes() + (d / f"{c0}.pem").read_bytes())
    keystore.chmod(0o600)
