"""Indexed message search: a tantivy index per searchable topic, fed off the event loop.

    schema.py   one document per record (fields, caps)
    reader.py   segment files read through the indexer's own descriptors
    index.py    a topic's index directory, its progress, rebuilds
    indexer.py  the core's listener (loop side) and the indexing thread
    dsl.py      Elasticsearch query DSL -> tantivy queries
    api.py      SearchApp: the ES-style HTTP API, framework-free, answered off the loop
    offline.py  `chronik segments reindex`: rebuild indexes of a stopped broker

Derived data: everything here can be deleted and is rebuilt from the log.
"""
