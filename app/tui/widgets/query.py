"""The `/` filter language: substrings over all columns, plus `tag:k=v` and `state:x` terms.

`web state:running tag:env=prod` keeps rows whose text contains `web`, whose state is
`running` and whose tag `env` is `prod`. Terms are ANDed; matching is case-insensitive.
`tag:k` alone keeps rows that carry tag `k` with any value. Any other `field:value` term
matches a row's field of that name (e.g. `type:t1.micro`, `image:tiny`) when it has one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar


class Filterable(Protocol):
    @property
    def haystack(self) -> str: ...
    @property
    def fields(self) -> Mapping[str, str]: ...
    @property
    def tags(self) -> Mapping[str, str]: ...


@dataclass(slots=True, frozen=True)
class Query:
    text: str = ""
    words: tuple[str, ...] = ()
    terms: tuple[tuple[str, str], ...] = ()
    tags: tuple[tuple[str, str | None], ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.words or self.terms or self.tags)


def parse(text: str) -> Query:
    words: list[str] = []
    terms: list[tuple[str, str]] = []
    tags: list[tuple[str, str | None]] = []
    for raw in text.split():
        token = raw.lower()
        name, sep, value = token.partition(":")
        if sep and name == "tag" and value:
            key, has_value, tag_value = value.partition("=")
            tags.append((key, tag_value if has_value else None))
        elif sep and name and value and name.isidentifier():
            terms.append((name, value))
        else:
            words.append(token)
    return Query(text, tuple(words), tuple(terms), tuple(tags))


def matcher(query: Query) -> Callable[[Filterable], bool]:
    words, terms, tags = query.words, query.terms, query.tags

    def match(row: Filterable) -> bool:
        hay = row.haystack
        for word in words:
            if word not in hay:
                return False
        for name, value in terms:
            have = row.fields.get(name)
            if have is None:
                if value not in hay:
                    return False
            elif have.lower() != value and not have.lower().startswith(value):
                return False
        if tags:
            row_tags = {k.lower(): v.lower() for k, v in row.tags.items()}
            for key, tag_value in tags:
                if key not in row_tags:
                    return False
                if tag_value is not None and row_tags[key] != tag_value:
                    return False
        return True

    return match


T = TypeVar("T", bound=Filterable)


def apply(rows: Sequence[T], text: str) -> list[T]:
    query = parse(text)
    if query.empty:
        return list(rows)
    match = matcher(query)
    return [row for row in rows if match(row)]


@dataclass(slots=True)
class Record:
    """A plain filterable record (used by tests and simple panes)."""

    haystack: str
    fields: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
