"""Chronik's built-in Confluent-compatible schema registry.

    store.py        SchemaRegistry: subjects, versions, ids, configs, modes on `_schemas`
    app.py          RegistryApp: the REST API v1 as handle(method, path, query, headers, body)
    schemas.py      AVRO / JSON / PROTOBUF parsing (fastavro, jsonschema, protoc)
    compat*.py      compatibility levels and the per-type rules
    log.py          CoreSchemaLog: `_schemas` through the broker core's pipelines
    validation.py   broker-side validation of produced records

No sockets here: the broker's HTTP layer mounts RegistryApp (see app.py).
"""
