"""Global options anywhere: what moves to the front, and what a command keeps as its own."""

from __future__ import annotations

from chronik.cli.argv import command_words, hoist


def test_global_options_move_to_the_front():
    assert hoist(["consume", "t", "-b", "h:1", "-o", "start"]) == ["-b", "h:1", "consume", "t", "-o", "start"]
    assert hoist(["topics", "list", "-o", "json", "--tls-ca", "ca.pem"]) == [
        "--output", "json", "--tls-ca", "ca.pem", "topics", "list"]


def test_the_broker_keeps_its_own_tls_and_sasl_options():
    argv = ["integrated", "--tls-cert", "b.pem", "--tls-key", "b.key", "--sasl-mechanism", "PLAIN", "-b", "x:1"]
    assert hoist(argv) == ["-b", "x:1", "integrated", "--tls-cert", "b.pem", "--tls-key", "b.key",
                           "--sasl-mechanism", "PLAIN"]
    assert command_words(hoist(argv)) == ["integrated"]
