"""The admin HTTP port: sans-IO HTTP/1.1 (h11) served by the broker's selectors loop.

`protocol` turns bytes into requests and responses into bytes, `app`
routes them, `metrics` renders /metrics. Nothing here owns a socket: the
server drives `HttpConnection` objects through its extra-listener interface.
"""
