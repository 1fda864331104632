"""Eco² backend: a modular monolith that boots whole or one domain per process."""

__version__ = "0.1.0"
