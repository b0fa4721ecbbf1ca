"""`chronik users list|create|delete`: SCRAM users over the Kafka protocol.

Describe/AlterUserScramCredentials, so it works against Apache Kafka too.
The password is salted and hashed here (PBKDF2, as Kafka's clients do):
only the salted password crosses the wire. It comes from `--password`,
`CHRONIK_USER_PASSWORD`, or a prompt that does not echo.
"""

from __future__ import annotations

import hashlib
import os
from typing import Annotated

import typer

from chronik.cli import app
from chronik.cli.client import close_quietly, kafka_errors, make_admin
from chronik.cli.render import Table, show
from chronik.cli.state import CliError

users_app = typer.Typer(help="SCRAM users (SASL/SCRAM-SHA-256/512, and PLAIN on Chronik).", no_args_is_help=True)
app.add_typer(users_app, name="users")

MECHS = {"SCRAM-SHA-256": (1, "sha256"), "SCRAM-SHA-512": (2, "sha512")}
NAMES = {1: "SCRAM-SHA-256", 2: "SCRAM-SHA-512"}


def _send(request):
    admin = make_admin()
    try:
        with kafka_errors():
            return admin._manager.run(admin._manager.send, request)
    finally:
        close_quietly(admin)


def _mechanisms(mechanism: list[str] | None) -> list[str]:
    out = [m.upper() for m in (mechanism or list(MECHS))]
    for m in out:
        if m not in MECHS:
            raise CliError(f"--mechanism must be one of {', '.join(MECHS)}, not {m!r}")
    return out


@users_app.command("list")
def list_users(users: Annotated[list[str] | None, typer.Argument(help="Users (default: all).")] = None) -> None:
    """List SCRAM users and their mechanisms."""
    from kafka.protocol.admin.users import DescribeUserScramCredentialsRequest as R

    resp = _send(R(users=[R.UserName(name=u) for u in users] if users else None))
    if resp.error_code:
        raise CliError(f"cannot list users: {resp.error_message or resp.error_code}")
    rows = []
    for r in resp.results:
        if r.error_code:
            rows.append({"user": r.user, "mechanisms": "", "error": r.error_message})
            continue
        rows.append({"user": r.user, "mechanisms": ",".join(
            f"{NAMES.get(c.mechanism, c.mechanism)}({c.iterations})" for c in r.credential_infos), "error": None})
    show(rows, [Table(["user", "mechanisms", "error"], rows)])


@users_app.command("create")
def create(
    user: Annotated[str, typer.Argument(help="User name.")],
    password: Annotated[str | None, typer.Option("--new-password", envvar="CHRONIK_USER_PASSWORD",
                                                 help="The user's password (prompted when absent; never echoed).",
                                                 show_envvar=True)] = None,
    mechanism: Annotated[list[str] | None, typer.Option("--mechanism", help="SCRAM-SHA-256|SCRAM-SHA-512 "
                                                        "(default: both).")] = None,
    iterations: Annotated[int, typer.Option("--iterations", min=4096, max=16384)] = 4096,
) -> None:
    """Create a user (or change its password)."""
    from kafka.protocol.admin.users import AlterUserScramCredentialsRequest as R

    if password is None:
        password = typer.prompt(f"Password for {user}", hide_input=True, confirmation_prompt=True)
    ups = []
    for m in _mechanisms(mechanism):
        code, h = MECHS[m]
        salt = os.urandom(32)
        salted = hashlib.pbkdf2_hmac(h, password.encode(), salt, iterations)
        ups.append(R.ScramCredentialUpsertion(name=user, mechanism=code, iterations=iterations, salt=salt,
                                              salted_password=salted))
    resp = _send(R(deletions=[], upsertions=ups))
    _report(resp, f"created user {user} ({', '.join(_mechanisms(mechanism))})")


@users_app.command("delete")
def delete(
    user: Annotated[str, typer.Argument(help="User name.")],
    mechanism: Annotated[list[str] | None, typer.Option("--mechanism", help="Only this mechanism.")] = None,
) -> None:
    """Delete a user's SCRAM credentials."""
    from kafka.protocol.admin.users import AlterUserScramCredentialsRequest as R
    from kafka.protocol.admin.users import DescribeUserScramCredentialsRequest as D

    mechs = mechanism
    if mechs is None:
        described = _send(D(users=[D.UserName(name=user)]))
        r = described.results[0] if described.results else None
        if r is None or r.error_code:
            raise CliError(f"user {user}: {r.error_message if r else 'not found'}")
        mechs = [NAMES[c.mechanism] for c in r.credential_infos if c.mechanism in NAMES]
    dels = [R.ScramCredentialDeletion(name=user, mechanism=MECHS[m][0]) for m in _mechanisms(mechs)]
    _report(_send(R(deletions=dels, upsertions=[])), f"deleted user {user}")


def _report(resp, ok: str) -> None:
    bad = [r for r in resp.results if r.error_code]
    if bad:
        raise CliError("; ".join(f"{r.user}: {r.error_message or r.error_code}" for r in bad))
    typer.echo(ok)
