"""Plumbing every domain uses: database, audit log, field encryption, metrics, IIN."""
