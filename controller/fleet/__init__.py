"""The fleet: what kits send (ingest, writer, store) and what is known of each kit."""
