"""Shared kernel: infrastructure every domain uses. Never imports a domain."""
