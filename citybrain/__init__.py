"""Citybrain: the shell package — settings, store, CLI, embedded runtime, simulator."""

__version__ = "0.1.0"
