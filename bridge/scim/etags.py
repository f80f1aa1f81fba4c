"""Weak ETags from `meta.version` and If-Match / If-None-Match evaluation (RFC 7644 §3.14, RFC 7232)."""

from __future__ import annotations


def etag_for(version: int) -> str:
    """The weak ETag for a resource version, e.g. `W/"3"`."""
    return f'W/"{version}"'


def _opaque(tag: str) -> str:
    """The opaque part of an entity tag; SCIM ETags are weak, so `W/` is ignored (weak comparison)."""
    tag = tag.strip()
    if tag[:2].upper() == "W/":
        tag = tag[2:].strip()
    if len(tag) >= 2 and tag[0] == '"' and tag[-1] == '"':
        return tag[1:-1]
    return tag  # tolerate an unquoted tag echoed by a careless client


def _tags(header: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    out.append("".join(current))
    return [t.strip() for t in out if t.strip()]


def if_match_ok(header: str | None, current: str) -> bool:
    """True when the write may proceed: no header, `*`, or a listed tag weakly matching `current`.

    RFC 7232 asks for strong comparison on If-Match, but SCIM versions are weak ETags (RFC 7644 §3.14)
    and clients echo them back as they received them, so the comparison is weak.
    """
    if header is None or not header.strip():
        return True
    tags = _tags(header)
    if "*" in tags:
        return True
    mine = _opaque(current)
    return any(_opaque(t) == mine for t in tags)


def if_none_match_hit(header: str | None, current: str) -> bool:
    """True when a GET should answer 304: `*` or a listed tag weakly matching `current`."""
    if header is None or not header.strip():
        return False
    tags = _tags(header)
    if "*" in tags:
        return True
    mine = _opaque(current)
    return any(_opaque(t) == mine for t in tags)
