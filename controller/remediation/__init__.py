"""Remediation: incidents on the escalation ladder, commands, bundles, diagnostics (README.md)."""
