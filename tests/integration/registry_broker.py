"""A broker whose schema registry answers on its own port (`--schema-registry-port`), as Confluent's does."""

from __future__ import annotations

from tests.conftest import BrokerProcess, free_port


class RegistryBroker(BrokerProcess):
    """A BrokerProcess with the registry on http://127.0.0.1:<registry_port> (a free port by default)."""

    registry_port: int = 0

    @property
    def registry_url(self) -> str:
        return f"http://127.0.0.1:{self.registry_port}"

    def start(self, timeout: float = 30.0) -> RegistryBroker:
        if not self.registry_port:
            self.registry_port = free_port()
        if "--schema-registry-port" not in self.extra_args:
            self.extra_args = [*self.extra_args, "--schema-registry-port", str(self.registry_port),
                               "--http-port", str(free_port())]
        super().start(timeout)
        assert f"schema registry {self.registry_url}" in self.output(), self.output()
        return self
