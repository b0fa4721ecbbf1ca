"""DescribeUserScramCredentials (50), v0: users' SCRAM mechanisms and iterations (never the keys).

users=None (or empty) lists every user; a named user without credentials
answers RESOURCE_NOT_FOUND, a name asked twice DUPLICATE_RESOURCE, as Kafka.
"""

from __future__ import annotations

from collections import Counter

from kafka.protocol.admin.users import DescribeUserScramCredentialsResponse

from chronik.security.scram import MECHANISMS
from chronik.wire.errors import ErrorCode

API_KEY = 50

_Result = DescribeUserScramCredentialsResponse.DescribeUserScramCredentialsResult
_Info = _Result.CredentialInfo


def handle(ctx, req):
    users = ctx.core.users.users()
    asked = [u.name for u in req.users] if req.users else sorted(users)
    counts = Counter(asked)
    results = []
    for name in dict.fromkeys(asked):
        if counts[name] > 1:
            results.append(_Result(user=name, error_code=ErrorCode.DUPLICATE_RESOURCE,
                                   error_message=f"Cannot describe SCRAM credentials for the same user twice in "
                                                 f"a single request: {name}", credential_infos=[]))
        elif name not in users:
            results.append(_Result(user=name, error_code=ErrorCode.RESOURCE_NOT_FOUND,
                                   error_message=f"Attempt to describe a user credential that does not exist: "
                                                 f"{name}", credential_infos=[]))
        else:
            results.append(_Result(user=name, error_code=0, error_message=None, credential_infos=[
                _Info(mechanism=MECHANISMS[m], iterations=c.iterations) for m, c in sorted(users[name].items())]))
    return DescribeUserScramCredentialsResponse(version=ctx.api_version, throttle_time_ms=0, error_code=0,
                                                error_message=None, results=results)
