"""Bus adapters: Kafka (production) and in-memory (embedded mode, tests)."""

from services.core.bus.base import Bus, Dispatcher, Handler, RawMessage, decode, encode
from services.core.bus.memory import InMemoryBus

__all__ = ["Bus", "Dispatcher", "Handler", "InMemoryBus", "RawMessage", "decode", "encode"]
