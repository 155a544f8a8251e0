"""The records of a build: the unit every source parser yields (one text aligned across languages)
and the retrieval pair the builder makes of a page's units."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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


def aligned_by_key(
    source: str,
    page_id: str,
    order: Sequence[str],
    en_units: Mapping[str, tuple[str, str]],
    per_lang: Mapping[str, Mapping[str, tuple[str, str]]],
    package_versions: dict[str, str],
) -> Iterator[AlignedUnit]:
    """Units of one page aligned by a structural key: ``en_units[key] = (kind, text)`` and the same
    keys in each language's ``per_lang[iso]``. A translation equal to the English text (an
    untranslated leftover) is dropped; a unit with no translation at all is not yielded."""
    for key in order:
        if key not in en_units:
            continue
        kind, en = en_units[key]
        texts = {"en": en}
        for iso, tr_units in per_lang.items():
            tr = tr_units.get(key)
            if tr and tr[1] != en:
                texts[iso] = tr[1]
        if len(texts) > 1:
            yield AlignedUnit(source, page_id, f"{source}:{page_id}#{key}", kind, texts, dict(package_versions))


@dataclass
class Pair:
    """A retrieval pair built from one page: a query unit and its passage, per language.

    ``page`` is the (source, page id) split key, ``kind`` the query unit's kind, ``group`` the id of
    the passage (shared by pairs with the same passage) and ``units`` the English texts the passage is
    made of (the leak check compares them with every held-out page)."""

    pair_id: str
    page: tuple[str, str]
    source: str
    kind: str
    group: str
    query: dict[str, str]
    passage: dict[str, str]
    units: tuple[str, ...] = ()

    def langs(self) -> list[str]:
        return [lg for lg in self.query if lg in self.passage]
