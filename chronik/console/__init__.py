"""The web console: pages and a JSON API on the admin HTTP port, served by the broker's own loop.

chronik.console.app.ConsoleApp is mounted on the admin port's router at
start-up (chronik.broker.main) through chronik.console.mount, which builds it
a moment after start or on the first console request. It reads the core as the HTTP app does and
changes it only through the Kafka handlers (chronik.console.kafka_calls), as
the logged-in principal. The page is hand-written HTML, CSS and JavaScript
in chronik/console/static (package data; no build step, no CDN, no
third-party front-end code).

Pages (hash routes of one page at `/`): `#/` overview, `#/topics`,
`#/topics/<t>`, `#/groups`, `#/groups/<g>`, `#/schemas`, `#/schemas/<s>`.
Each page root is `[data-testid=page-<name>]` and gets `data-loaded="true"`
once its first data is drawn; charts are SVGs with `data-points` and
`data-last`.

The JSON API (errors: `{"error": {"status", "message", "code"?}}`, 4xx for
bad input; writes are POSTs with `X-CSRF-Token`, same origin, refused in
read-only mode):

    GET  /console/api/session                 version, principal, auth_required, read_only, csrf_token
    POST /console/api/login|logout            {username, password} -> a session acting as User:<name>
    GET  /console/api/overview                /v1/status and the latest rates
    GET  /console/api/overview/series?since=  one point a second, 15 minutes
    GET  /console/api/topics                  name, partitions, size, messages, msg/s, retention, search
    POST /console/api/topics                  {name, partitions, configs}            (CreateTopics)
    GET  /console/api/topics/<t>              partitions (start/end offsets, sizes), configs
    POST /console/api/topics/<t>/delete                                               (DeleteTopics)
    POST /console/api/topics/<t>/configs      {set: {k: v}, delete: [k]}              (IncrementalAlterConfigs)
    GET  /console/api/topics/<t>/messages     from=end|start|offset|time, offset, time, partition, limit, order
    GET  /console/api/topics/<t>/tail         cursor=p:o,... -> what is new, and the next cursor
    GET  /console/api/topics/<t>/download     the same range as JSON lines (up to 10,000 records)
    GET  /console/api/topics/<t>/search       q (`chronik search` syntax), since, until, partition, size
    POST /console/api/topics/<t>/produce      {key, value, headers, partition}        (Produce, acks=1)
    GET  /console/api/groups                  group, type, state, members, lag
    GET  /console/api/groups/<g>              members, assignments, committed/end/lag per partition
    GET  /console/api/groups/<g>/lag-history  total lag every 5 s, 15 minutes
    POST /console/api/groups/<g>/reset        {to: start|end|offset|time, topic, partitions, offset, time}
                                              only for an Empty group                  (OffsetCommit)
    GET  /console/api/schemas                 subjects, versions, types, compatibility
    GET  /console/api/schemas/<s>             every version pretty-printed, compatibility

A message is `{partition, offset, timestamp, timestamp_type, key, value,
headers}`; key and value are `null` or `{size, text, format, base64?, json?,
schema_id?, error?, truncated?}` (chronik.console.decode; base64 only
for bytes that are not UTF-8 text).
"""
