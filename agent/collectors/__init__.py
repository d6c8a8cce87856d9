"""Collectors: one module per hardware source; only these import psutil or pyudev."""

from agent.collectors.system import SystemCollector

__all__ = ["SystemCollector"]
