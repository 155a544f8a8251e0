"""Request models of the HTTP service: strict types, bounded sizes, no control characters."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from mimo.langs import ALL_LANGS, normalize_lang

MAX_QUERIES = 256
MAX_QUERY_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# ----------------------------------------------------------------------------- request models


def _check_texts(v: str | list[str], what: str) -> list[str]:
    items = [v] if isinstance(v, str) else v
    if not items:
        raise ValueError(f"{what} must not be an empty list")
    if len(items) > MAX_QUERIES:
        raise ValueError(f"too many {what}: {len(items)} > {MAX_QUERIES} per request")
    for i, q in enumerate(items):
        if not q.strip():
            raise ValueError(f"{what}[{i}] is empty")
        if len(q) > MAX_QUERY_CHARS:
            raise ValueError(f"{what}[{i}] is {len(q)} characters; the limit is {MAX_QUERY_CHARS}")
        if _CONTROL.search(q):
            raise ValueError(f"{what}[{i}] contains control characters")
    return items


class SearchRequest(BaseModel):
    """``query``: one string or a list; ``k``: 1..1000; ``lang``: ISO codes to keep (optional)."""

    model_config = ConfigDict(extra="forbid")
    query: StrictStr | list[StrictStr]
    k: Annotated[StrictInt, Field(ge=1, le=1000)] = 10
    lang: StrictStr | list[StrictStr] | None = None

    @field_validator("query")
    @classmethod
    def _queries(cls, v: str | list[str]) -> list[str]:
        return _check_texts(v, "query")

    @field_validator("lang")
    @classmethod
    def _langs(cls, v: str | list[str] | None) -> list[str] | None:
        if v is None:
            return None
        items = [v] if isinstance(v, str) else v
        if not items or len(items) > len(ALL_LANGS) * 4:
            raise ValueError("lang must list between 1 and a few dozen language codes")
        out = []
        for code in items:
            iso = normalize_lang(code[:32])
            if iso is None:
                raise ValueError(f"language {code!r} is deliberately not supported")
            out.append(iso)
        return sorted(set(out))


class EmbedRequest(BaseModel):
    """``texts``: one string or a list; ``prompt``: the model prompt to prepend (default query)."""

    model_config = ConfigDict(extra="forbid")
    texts: StrictStr | list[StrictStr]
    prompt: Literal["query", "passage"] | None = "query"

    @field_validator("texts")
    @classmethod
    def _texts(cls, v: str | list[str]) -> list[str]:
        return _check_texts(v, "texts")
