"""Predictions from the learning loop: stored, listed, and turned into scaling advice."""
