"""AlterUserScramCredentials (51), v0: upsert or delete users' SCRAM credentials.

An upsertion carries the salt and the *salted* password (the client runs
PBKDF2), from which the stored and server keys are derived: the broker
never sees a password. Kafka's checks: iterations within 4096..16384, a
known mechanism, no user both upserted and deleted, a deletion of a
credential that does not exist is RESOURCE_NOT_FOUND.
"""

from __future__ import annotations

from collections import Counter

from kafka.protocol.admin.users import AlterUserScramCredentialsResponse

from chronik.security import scram
from chronik.wire.errors import ErrorCode

API_KEY = 51

_Result = AlterUserScramCredentialsResponse.AlterUserScramCredentialsResult


def handle(ctx, req):
    users = ctx.core.users
    errors: dict[str, tuple[int, str]] = {}
    order: list[str] = []
    ops = [(d.name, d.mechanism, None) for d in req.deletions] + [(u.name, u.mechanism, u) for u in req.upsertions]
    per_user = Counter((n, m) for n, m, _ in ops)
    for name, mech, up in ops:
        if name not in order:
            order.append(name)
        if name in errors:
            continue
        mechanism = scram.BY_CODE.get(mech)
        if not name:
            errors[name] = (ErrorCode.UNACCEPTABLE_CREDENTIAL, "Username must not be empty")
        elif mechanism is None:
            errors[name] = (ErrorCode.UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism")
        elif per_user[(name, mech)] > 1:
            errors[name] = (ErrorCode.DUPLICATE_RESOURCE, "A user credential cannot be altered twice in the same "
                                                          "request")
        elif up is not None and not scram.MIN_ITERATIONS <= up.iterations <= scram.MAX_ITERATIONS:
            errors[name] = (ErrorCode.UNACCEPTABLE_CREDENTIAL,
                            f"Iterations {up.iterations} must be between {scram.MIN_ITERATIONS} and "
                            f"{scram.MAX_ITERATIONS}")
        elif up is None and users.get(name, mechanism) is None:
            errors[name] = (ErrorCode.RESOURCE_NOT_FOUND,
                            "Attempt to delete a user credential that does not exist")
    changed = False
    for name, mech, up in ops:
        if name in errors:
            continue
        mechanism = scram.BY_CODE[mech]
        if up is None:
            users.delete(name, mechanism, persist=False)
        else:
            users.put(name, mechanism, scram.from_salted_password(mechanism, bytes(up.salt), bytes(up.salted_password),
                                                                  up.iterations), persist=False)
        changed = True
    if changed:
        users.persist()
    results = [_Result(user=n, error_code=errors.get(n, (0, None))[0], error_message=errors.get(n, (0, None))[1])
               for n in order]
    return AlterUserScramCredentialsResponse(version=ctx.api_version, throttle_time_ms=0, results=results)
