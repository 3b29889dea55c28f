"""Failure prediction and resource-exhaustion forecasts: pure, online."""
