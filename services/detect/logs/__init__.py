"""Log anomaly detection: template mining, new templates, rate shifts, error bursts (pure)."""

from services.detect.logs.miner import MinerConfig, Template, TemplateMiner
from services.detect.logs.monitor import LogPolicy, LogsMonitor

__all__ = ["LogPolicy", "LogsMonitor", "MinerConfig", "Template", "TemplateMiner"]
