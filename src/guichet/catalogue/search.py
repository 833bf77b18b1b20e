"""Full-text search of the catalogue, accent-insensitive, on SQLite and PostgreSQL.

One index (``catalogue_search``): a document per product, per table and per variable. The two databases
differ only in this module's two small dialect classes (the Splink way):

- SQLite: an FTS5 table whose ``unicode61 remove_diacritics 2`` tokenizer folds 'décès' to 'deces';
  queries are prefix queries on every word, ranked by bm25 (titles weigh more than bodies).
- PostgreSQL: a ``tsvector`` holding each word twice: its French stem (``guichet_fr``: ``unaccent`` then
  the French stemmer) and the word itself (``guichet_words``: ``unaccent`` then ``simple``). A query word
  matches a stem exactly ('décès' and 'deces' both stem to 'dec') or a whole word by prefix ('hospit'
  finds 'hospitalisation'); ranked by ``ts_rank``. A prefix on the stem alone was too broad: 'dec:*' also
  found 'déclaration' and 'décembre'.

A query is split into words on anything that is not a letter or a digit, so user input never reaches the
query syntax of either engine (no operators, no quotes), and every value is a bound parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from guichet.catalogue.model import fold

MAX_WORDS = 8
MAX_RESULTS = 100
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class SearchDoc:
    kind: str  # product | table | variable
    product_id: str
    ref: str  # product id, TABLE or TABLE.VARIABLE
    title: str
    body: str


@dataclass(frozen=True)
class SearchHit:
    kind: str
    product_id: str
    ref: str
    title: str
    snippet: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "product": self.product_id, "ref": self.ref, "title": self.title,
                "snippet": self.snippet, "score": round(self.score, 4)}


def words(query: str) -> list[str]:
    """The query's words, folded (lower case, no diacritics), at most MAX_WORDS."""
    return [w for w in (fold(m) for m in _WORD.findall(query)) if w][:MAX_WORDS]


def _snippet(body: str, terms: list[str], width: int = 160) -> str:
    folded = fold(body)
    pos = min((folded.find(t) for t in terms if t in folded), default=-1)
    if pos < 0:
        return body[:width] + ("…" if len(body) > width else "")
    start = max(0, pos - 40)
    piece = body[start:start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(body) else "")


class _Dialect:
    def clear(self, session: Session, product_id: str) -> None:
        session.execute(text("DELETE FROM catalogue_search WHERE product_id = :p"), {"p": product_id})

    def add(self, session: Session, docs: list[SearchDoc]) -> None:
        raise NotImplementedError

    def search(self, session: Session, terms: list[str], kinds: tuple[str, ...], limit: int) -> list[SearchHit]:
        raise NotImplementedError


class _SQLite(_Dialect):
    def add(self, session: Session, docs: list[SearchDoc]) -> None:
        if docs:
            session.execute(text("INSERT INTO catalogue_search (kind, product_id, ref, title, body) "
                                 "VALUES (:kind, :product_id, :ref, :title, :body)"),
                            [d.__dict__ for d in docs])

    def search(self, session: Session, terms: list[str], kinds: tuple[str, ...], limit: int) -> list[SearchHit]:
        # Each word becomes a quoted prefix term: only letters and digits reach MATCH (see words()).
        match = " ".join(f'"{t}"*' for t in terms)
        rows = session.execute(text(
            "SELECT kind, product_id, ref, title, body, bm25(catalogue_search, 0, 0, 0, 10.0, 1.0) AS score "
            "FROM catalogue_search WHERE catalogue_search MATCH :match ORDER BY score LIMIT :limit"),
            {"match": match, "limit": limit * 3}).all()
        return [SearchHit(r.kind, r.product_id, r.ref, r.title, _snippet(r.body, terms), -float(r.score))
                for r in rows if r.kind in kinds][:limit]


class _PostgreSQL(_Dialect):
    def add(self, session: Session, docs: list[SearchDoc]) -> None:
        if docs:
            session.execute(text(
                "INSERT INTO catalogue_search (kind, product_id, ref, title, body, document) VALUES "
                "(:kind, :product_id, :ref, :title, :body, "
                "setweight(to_tsvector('guichet_fr', :title), 'A') || setweight(to_tsvector('guichet_fr', :body), 'B') || "
                "setweight(to_tsvector('guichet_words', :title), 'A') || "
                "setweight(to_tsvector('guichet_words', :body), 'B'))"),
                [d.__dict__ for d in docs])

    def search(self, session: Session, terms: list[str], kinds: tuple[str, ...], limit: int) -> list[SearchHit]:
        # to_tsquery gets only folded letters and digits (see words()), as bound parameters: each word is its
        # stem, exactly, or a whole word by prefix (words of one or two letters: exactly); words joined by AND.
        parts, params = [], {"kinds": list(kinds), "limit": limit}
        for i, t in enumerate(terms):
            parts.append(f"(to_tsquery('guichet_fr', :s{i}) || to_tsquery('guichet_words', :w{i}))")
            params[f"s{i}"], params[f"w{i}"] = t, (f"{t}:*" if len(t) > 2 else t)
        rows = session.execute(text(
            f"WITH query AS (SELECT {' && '.join(parts)} AS q) "
            "SELECT kind, product_id, ref, title, body, ts_rank(document, q) AS score "
            "FROM catalogue_search, query "
            "WHERE document @@ q AND kind = ANY(:kinds) ORDER BY score DESC, ref LIMIT :limit"),
            params).all()
        return [SearchHit(r.kind, r.product_id, r.ref, r.title, _snippet(r.body, terms), float(r.score))
                for r in rows]


def dialect(session: Session) -> _Dialect:
    name = session.get_bind().dialect.name
    return _PostgreSQL() if name == "postgresql" else _SQLite()


def reindex(session: Session, product_id: str, docs: list[SearchDoc]) -> None:
    d = dialect(session)
    d.clear(session, product_id)
    d.add(session, docs)


def search(session: Session, query: str, kinds: tuple[str, ...] = ("product", "table", "variable"),
           limit: int = 50) -> list[SearchHit]:
    terms = words(query)
    if not terms:
        return []
    return dialect(session).search(session, terms, kinds, max(1, min(limit, MAX_RESULTS)))
