"""Tickets: repair, replacement and help requests, with their state machine and SLA.

- `machine`: the ticket's pure state machine (states, steps, reasons, priority ranks);
- `service`: tickets in the database (opened by the ladder or by hand, moved, closed, breached,
  settled) and who to call about one: the front door for other domains and the API;
- `causes`: what a ticket is about (one unfinished ticket per kit, kind and cause); `opening`:
  opening one or joining the one open for the same cause; `due`: its due from the pupil's next
  lesson; `settle`: following a resolved incident and a changed schedule; `replacements`: a
  replacement carried out; `contact`: who to call; `views`: what a person reads (their language,
  the school's time zone); `records`: a row's steps written to its history and the audit log;
- `schemas`: the API's models; `errors`: the domain's root error; `tables`: its tables.
"""
