"""Security, sans-IO: SASL mechanisms, principals, SCRAM credentials, ACLs and the authorizer.

Nothing here touches a socket or the broker: the server feeds a
connection's `Session` what it learns (a TLS peer certificate, SASL tokens)
and the core asks the `Authorizer` one question per request.
"""
