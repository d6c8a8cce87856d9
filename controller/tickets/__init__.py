"""Tickets: repair, replacement and help requests, with their state machine and SLA."""
