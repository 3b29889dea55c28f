"""Executors: Kubernetes, HTTP runbooks, local commands, and the demo target."""

from services.remediate.executors.base import (
    Executor,
    ExecutorRegistry,
    Outcome,
    PlannedCall,
    Preview,
    RollbackPlan,
)

__all__ = ["Executor", "ExecutorRegistry", "Outcome", "PlannedCall", "Preview", "RollbackPlan"]
