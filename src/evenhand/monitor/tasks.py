"""Monitoring in the worker (filled in as the capability lands)."""
