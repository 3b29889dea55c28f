"""Following the anomalies topic on Kafka, so ingest knows which series are anomalous now.

Every ingest process needs every anomaly (not a share of them), so this reads all partitions
without a consumer group, from the beginning of the topic (replaying firing/resolved
transitions rebuilds the current state), in a daemon thread. Anomalies are handed to the event
loop; a message that does not parse is skipped (the detect side dead-letters its own output).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from services.core.events import Anomaly

log = logging.getLogger(__name__)


class AnomalyTail:
    """A group-less Kafka reader of the anomalies topic."""

    def __init__(
        self,
        servers: list[str],
        topic: str,
        on_anomaly: Callable[[Anomaly], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.servers = servers
        self.topic = topic
        self.on_anomaly = on_anomaly
        self.loop = loop
        self.seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="anomaly-tail", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow()
            except Exception as exc:  # noqa: BLE001 - keep following after broker trouble
                log.warning("following %s failed, retrying: %s", self.topic, exc)
                self._stop.wait(5.0)

    def _follow(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(
            bootstrap_servers=self.servers,
            client_id="vigil-ingest-anomalies",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            partitions = consumer.partitions_for_topic(self.topic)
            while not partitions and not self._stop.wait(2.0):
                partitions = consumer.partitions_for_topic(self.topic)
            if not partitions:
                return
            assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            consumer.seek_to_beginning(*assigned)
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=1000).values():
                    for record in records:
                        self._deliver(record.value)
        finally:
            consumer.close()

    def _deliver(self, value: Any) -> None:
        try:
            anomaly = Anomaly.model_validate_json(value)
        except ValidationError:
            return
        self.seen += 1
        self.loop.call_soon_threadsafe(self.on_anomaly, anomaly)
