"""The materials' origin (`--web-port` + 1): blobs and package files, sandboxed, read-only.

- `GET /blob/{sha256}`: a file the served manifest names (a material's main file or its
  captions), with Range (Starlette's FileResponse); `?download=1` offers it as a download;
- `GET /pkg/{resource_id}/{name}`: a file inside an HTML5 package or an EPUB, by its exact name.

Every answer carries the sandboxing policy (`guard.material_policy`); media and captions may be
read by the page's origin (CORS), which plays them with `<video crossorigin>` and `<track>`.
"""

from __future__ import annotations

import logging
from typing import Final

from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from agent.content.store import ContentStore
from agent.web import guard, packages
from protocol.content import ContentManifest, ManifestResource, ResourceKind

_LOGGER = logging.getLogger(__name__)

SMALL: Final = 1024 * 1024
"""Package files up to this size are read at once; larger ones are streamed."""
INLINE: Final = 256 * 1024
"""Blobs up to this size, asked for whole, are read at once in the event loop."""
ZIPPED: Final = frozenset({ResourceKind.HTML5, ResourceKind.EPUB})
EXTENSIONS: Final = {
    ResourceKind.PDF: "pdf",
    ResourceKind.EPUB: "epub",
    ResourceKind.HTML5: "zip",
    ResourceKind.AUDIO: "audio",
    ResourceKind.VIDEO: "video",
}


def blob_media_type(manifest: ContentManifest, sha256: str) -> tuple[str, ManifestResource] | None:
    """The media type a named blob is served with, and its resource (None: not named)."""
    for resource in manifest.resources:
        if resource.sha256 == sha256:
            return _main_type(manifest, resource), resource
        if any(c.sha256 == sha256 for c in resource.captions):
            return "text/vtt; charset=utf-8", resource
    return None


def _main_type(manifest: ContentManifest, resource: ManifestResource) -> str:
    if resource.kind is ResourceKind.PDF:
        return "application/pdf"
    if resource.kind is ResourceKind.EPUB:
        return "application/epub+zip"
    if resource.kind is ResourceKind.HTML5:
        return "application/zip"
    blob = manifest.blob(resource.sha256)
    declared = blob.media_type.split(";")[0].strip().lower() if blob else ""
    if declared.startswith(("audio/", "video/")) and declared.replace("/", "").isalnum():
        return declared
    return packages.OCTETS


class Materials:
    """The materials' handlers over one content store."""

    def __init__(self, store: ContentStore) -> None:
        self.store = store

    async def blob(self, request: Request) -> Response:
        """A blob the served manifest names, with Range; its hash is its ETag."""
        sha = request.path_params["sha"]
        manifest = self.store.current()
        found = blob_media_type(manifest, sha) if manifest else None
        path = self.store.blob_path(sha) if found else None
        try:
            size = path.stat().st_size if path else None
        except OSError:
            size = None
        if found is None or path is None or size is None:
            return PlainTextResponse("not found\n", status_code=404)
        media_type, resource = found
        etag = f'"{sha}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"etag": etag})
        name = None
        if request.query_params.get("download") == "1" and resource.sha256 == sha:
            name = f"{resource.id}.{EXTENSIONS[resource.kind]}"
        elif size <= INLINE and "range" not in request.headers:
            # A small whole file in one write, without FileResponse's trips to a thread.
            headers = {"etag": etag, "accept-ranges": "bytes"}
            return Response(path.read_bytes(), media_type=media_type, headers=headers)
        return FileResponse(
            path,
            media_type=media_type,
            filename=name,
            content_disposition_type="attachment" if name else "inline",
            headers={"etag": etag},
        )

    async def package_file(self, request: Request) -> Response:
        """A file inside a package by its exact name."""
        manifest = self.store.current()
        resource = manifest.resource(request.path_params["rid"]) if manifest else None
        if resource is None or resource.kind not in ZIPPED or not self.store.has(resource.sha256):
            return PlainTextResponse("not found\n", status_code=404)
        blob = self.store.blob_path(resource.sha256)
        name = request.path_params["name"]
        try:
            info = await run_in_threadpool(packages.member, blob, name)
        except packages.MemberRefusedError as exc:
            _LOGGER.info("package %s: %s", resource.id, exc)
            return PlainTextResponse("not found\n", status_code=404)
        media_type = packages.media_type(name)
        if info.file_size <= SMALL:
            body = await run_in_threadpool(lambda: b"".join(packages.read_member(blob, info)))
            return Response(body, media_type=media_type)
        return StreamingResponse(
            iterate_in_threadpool(packages.read_member(blob, info)),
            media_type=media_type,
            headers={"content-length": str(info.file_size)},
        )


def create_materials_app(store: ContentStore, *, page_port: int, port: int) -> guard.Guard:
    """The materials' origin on `port`, framed and read only by the page on `page_port`."""
    handlers = Materials(store)
    app = Starlette(
        routes=[
            Route("/blob/{sha:str}", handlers.blob, methods=["GET", "HEAD"]),
            Route("/pkg/{rid:str}/{name:path}", handlers.package_file, methods=["GET", "HEAD"]),
        ]
    )
    headers = {
        "content-security-policy": guard.material_policy(page_port),
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-cache",
    }
    return guard.Guard(app, guard.hosts(port), headers, cors_origins=guard.origins(page_port))
