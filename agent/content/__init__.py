"""The kit's offline content: the store, the sync and what the pupil's page reads."""
