"""Finding resources: full-text search over title, author, description, keywords, provider, and
the rubricator's filters (grade, subject, language, kind) with counts per value (facets).

On SQLite the words are looked up in the FTS5 table `content_search` (tokenizer `unicode61` with
diacritics removed: Kazakh and Russian words match whatever their case), which the catalogue keeps
in step with the resources (`index`, `unindex`). On PostgreSQL the same columns are matched with
`to_tsvector('simple', ...) @@ plainto_tsquery('simple', ...)` (the expression migration 0027
indexes). Every word of the query must match (a word's beginning is enough on SQLite); archived
resources are never found unless asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Float,
    String,
    and_,
    column,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Session

from controller.content.tables import ContentResource

MAX_QUERY_WORDS: Final = 12
_WORD: Final = re.compile(r"\w+", re.UNICODE)
_SEARCHED: Final = ("title", "author", "description", "keywords", "provider")
_MATCH_SQL: Final = (
    "SELECT resource_id, bm25(content_search) AS rank FROM content_search "
    "WHERE content_search MATCH :match"
)
_INSERT_SQL: Final = (
    "INSERT INTO content_search (resource_id, title, author, description, keywords, provider) "
    "VALUES (:resource_id, :title, :author, :description, :keywords, :provider)"
)
_DELETE_SQL: Final = "DELETE FROM content_search WHERE resource_id = :id"


@dataclass(frozen=True, slots=True)
class Filters:
    """What a search or a browse asks for (None: any)."""

    q: str | None = None
    grade: int | None = None
    subject: str | None = None
    language: str | None = None
    kind: str | None = None
    archived: bool = False


def words(q: str | None) -> list[str]:
    """The query's words (letters and digits in any script), at most MAX_QUERY_WORDS."""
    return _WORD.findall(q or "")[:MAX_QUERY_WORDS]


def fts_query(q: str | None) -> str | None:
    """An FTS5 MATCH expression: every word, each as a quoted prefix (no FTS5 syntax passes)."""
    found = words(q)
    return " ".join(f'"{w}"*' for w in found) if found else None


_DOCUMENT: Final = (
    "to_tsvector('simple', content_resources.title || ' ' || content_resources.author || ' ' || "
    "content_resources.description || ' ' || content_resources.keywords || ' ' || "
    "content_resources.provider)"
)
"""The searched text as PostgreSQL indexes it: the expression of migration 0027's GIN index,
written out (not bound parameters) so that the planner matches it to the index."""


def _conditions(session: Session, filters: Filters) -> tuple[list[ColumnElement[bool]], Any]:
    """The WHERE conditions and, for a text search on SQLite, the FTS subquery to join."""
    where: list[ColumnElement[bool]] = []
    if not filters.archived:
        where.append(ContentResource.archived_at.is_(None))
    for name in ("grade", "subject", "language", "kind"):
        if (value := getattr(filters, name)) is not None:
            where.append(getattr(ContentResource, name) == value)
    matched = None
    if words(filters.q):
        if session.get_bind().dialect.name == "postgresql":
            query = func.plainto_tsquery("simple", " ".join(words(filters.q)))
            where.append(literal_column(_DOCUMENT).op("@@")(query))
        else:
            matched = (
                text(_MATCH_SQL)
                .bindparams(match=fts_query(filters.q))
                .columns(column("resource_id", String), column("rank", Float))
                .subquery("matched")
            )
    return where, matched


def find(
    session: Session, filters: Filters, *, limit: int, offset: int
) -> tuple[list[ContentResource], int]:
    """A page of the matching resources (best match first for a text search, else by title)
    and how many match in all."""
    where, matched = _conditions(session, filters)
    query = select(ContentResource).where(and_(True, *where))
    if matched is not None:
        query = query.join(matched, matched.c.resource_id == ContentResource.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if matched is not None:
        query = query.order_by(matched.c.rank, ContentResource.title, ContentResource.id)
    else:
        query = query.order_by(ContentResource.title, ContentResource.id)
    items = list(session.scalars(query.limit(limit).offset(offset)))
    return items, total


def facets(session: Session, filters: Filters) -> dict[str, list[tuple[str, int]]]:
    """For each of grade, subject, language, kind: its values among the matching resources and
    how many have each (most first), and `total` as [("", n)]."""
    where, matched = _conditions(session, filters)
    base = select(ContentResource).where(and_(True, *where))
    if matched is not None:
        base = base.join(matched, matched.c.resource_id == ContentResource.id)
    found = base.subquery()
    counts: dict[str, list[tuple[str, int]]] = {}
    for name in ("grade", "subject", "language", "kind"):
        value = found.c[name]
        rows = session.execute(
            select(value, func.count()).group_by(value).order_by(func.count().desc(), value)
        )
        counts[name] = [(str(v), n) for v, n in rows]
    counts["total"] = [("", session.scalar(select(func.count()).select_from(found)) or 0)]
    return counts


def index(session: Session, resource: ContentResource) -> None:
    """Put (or put again) the resource's searched words in the FTS table (SQLite only)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    unindex(session, resource.id)
    session.execute(
        text(_INSERT_SQL),
        {"resource_id": resource.id} | {n: getattr(resource, n) for n in _SEARCHED},
    )


def unindex(session: Session, resource_id: str) -> None:
    """Take the resource out of the FTS table (SQLite only)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    session.execute(text(_DELETE_SQL), {"id": resource_id})
