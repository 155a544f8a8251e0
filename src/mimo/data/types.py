"""The record every source parser yields: one unit of text aligned across languages."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Unit kinds. Query-like kinds become retrieval queries; passage-like kinds become passages.
QUERY_KINDS = frozenset({"title", "keyword", "description", "heading"})
PASSAGE_KINDS = frozenset({"paragraph"})
OTHER_KINDS = frozenset({"message"})  # UI strings: parallel data only


@dataclass(frozen=True)
class AlignedUnit:
    """One translatable unit and its versions.

    ``texts`` maps ISO 639-1 codes (``mimo.langs.normalize_lang``) to cleaned text and always
    contains ``"en"``. ``unit_id`` is stable across languages and builds; ``page_id`` names the
    page/document it belongs to (the benchmark split key), ``source`` the parser
    (``libreoffice-help``, ``libreoffice-l10n``, ``gnome-user-docs``, ``installation-guide``,
    ``gettext-weblate``, ``gettext-django``) and ``kind`` one of the kinds above.
    """

    source: str
    page_id: str
    unit_id: str
    kind: str
    texts: dict[str, str] = field(hash=False)
    package_versions: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
