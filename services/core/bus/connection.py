"""How every Kafka client of Vigil connects: one description, translated per client library.

Vigil talks to Kafka through three libraries (kafka-python for producing and admin, aiokafka
under Faust for consuming, Faust itself). Each spells the same connection settings differently;
`KafkaConnection` holds them once, and each client is built from the method for its library, so
a setting can never reach one client and miss another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class KafkaConnection:
    """Bootstrap servers plus everything needed to reach and authenticate to them."""

    servers: list[str] = field(default_factory=lambda: ["127.0.0.1:9092"])

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer and admin client."""
        return {"bootstrap_servers": list(self.servers)}

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's AIOKafkaConsumer / AIOKafkaProducer."""
        return {"bootstrap_servers": ",".join(self.servers)}

    def faust(self) -> dict[str, Any]:
        """Keyword arguments for faust.App (broker URLs and credentials)."""
        return {"broker": [f"kafka://{s}" for s in self.servers]}
