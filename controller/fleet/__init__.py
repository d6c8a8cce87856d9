"""The fleet: what kits send, and what is known of each kit.

- `ingest`: the MQTT adapter (messages to the writer; acks once they are committed);
- `writer`: the writer process (decodes batches and commits them through `store`);
- `store`: the write path (messages stored once, kits' presence and ack watermarks);
- `clock`: how far a kit's clock is off, read from what it sends, and when to say so;
- `queries`: reading kits back for the API (the list with inventory status, one kit, its
  telemetry and events page by page); `figures`: what the list shows of one snapshot;
- `health`: the controller's own health (database, broker, CRL);
- `service`: what other domains do to a kit's row in their own transaction (enrolment makes it);
- `schemas`: the API's models; `tables`: the kits, telemetry and events tables.
"""
