"""The web console: pages and a JSON API on the admin HTTP port, served by the broker's own loop.

chronik.console.app.ConsoleApp is mounted on the admin port's router at
start-up (chronik.broker.main). It reads the core as the HTTP app does and
changes it only through the Kafka handlers (chronik.console.kafka_calls), as
the logged-in principal. The page is hand-written HTML, CSS and JavaScript
in chronik/console/static (package data; no build step, no CDN).
"""
