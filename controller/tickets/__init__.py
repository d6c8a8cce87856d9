"""Tickets: repair, replacement and help requests, with their state machine and SLA.

- `machine`: the ticket's pure state machine (states, steps, reasons, priority ranks);
- `service`: tickets in the database (opened by the ladder or by hand, moved, closed, breached)
  and who to call about one;
- `schemas`: the API's models; `errors`: the domain's root error; `tables`: its tables.
"""
