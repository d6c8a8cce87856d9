"""Offline content (issue 14): the catalogue of digital educational resources, and what kits get.

The catalogue half: `tables` (blobs once by sha256, resources, captions), `blobstore` (the files),
`packages` (what an upload must be), `chunking` (FastCDC chunks of large blobs), `search` (FTS5 /
PostgreSQL full text, the rubricator's facets), `imports` (a folder plus a metadata file),
`intake` (checks, then stores, a resource), `catalogue` (the front door the API, the command
line and the assignments call). See README.md.
"""

from controller.content.tables import ContentBlob as ContentBlob  # the tables
from controller.content.tables import ContentCaption as ContentCaption
from controller.content.tables import ContentResource as ContentResource
