"""LibreOffice sources: help pages (``libreoffice-help-*``) and UI catalogs (``libreoffice-l10n-*``).

Help pages are XSLT-rendered HTML whose paragraphs and headings carry ids from the source
``.xhp`` (``par_id…``, ``hd_id…``) that are identical in every language, so units align by
(page path, element id). Index keywords come from each language's ``bookmarks.js``, keyed by
(page, bookmark id); the keywords of one bookmark are sorted per language, so only bookmarks with
exactly one keyword in both languages are aligned. Platform/application variants
(``<span hidden="true">`` inside a ``switchinline``) are skipped, except the ``default…`` variant
that the help shows on Linux. UI catalogs are gettext ``.mo`` files; msgid is the English source.
"""

from __future__ import annotations

import hashlib
import html
import logging
import os
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

from mimo.data.clean import clean_text
from mimo.data.mo import read_mo
from mimo.data.types import AlignedUnit
from mimo.errors import MimoError
from mimo.fetch import fetch_and_extract_deb
from mimo.langs import SOURCE_LANGS, TARGET_LANGS, normalize_lang

log = logging.getLogger("mimo.data")
HELP_SOURCE = "libreoffice-help"
L10N_SOURCE = "libreoffice-l10n"

#: Debian package suffix per ISO code. Portuguese is Brazilian (pt-BR) everywhere in mimo.
_DEB_LOCALE = {"en": "en-us", "zh": "zh-cn", "pt": "pt-br", "pa": "pa-in", "gn": "gug", "ku": "kmr"}
#: Languages with a ``libreoffice-help-*`` package in bookworm (Arabic has none: UI catalogs only).
HELP_LANGS: tuple[str, ...] = (
    "ca", "cs", "da", "de", "dz", "el", "es", "et", "eu", "fi", "fr", "gl", "hi", "hu", "id", "it", "ja",
    "km", "ko", "nl", "om", "pl", "pt", "ru", "sk", "sl", "sv", "tr", "vi", "zh",
)


def help_package(lang: str) -> str:
    return f"libreoffice-help-{_DEB_LOCALE.get(lang, lang)}"


def l10n_package(lang: str) -> str:
    return f"libreoffice-l10n-{_DEB_LOCALE.get(lang, lang)}"


HELP_INFO: dict = {
    "packages": [help_package("en"), *(help_package(x) for x in SOURCE_LANGS if x in HELP_LANGS)],
    "licence": "MPL-2.0",
    "kind": "debian",
    "url": "https://help.libreoffice.org",
    "description": "LibreOffice 7.4 help pages (HTML), paragraphs aligned by xhp paragraph id",
}
L10N_INFO: dict = {
    "packages": [l10n_package(x) for x in SOURCE_LANGS],
    "licence": "MPL-2.0",
    "kind": "debian",
    "url": "https://translations.documentfoundation.org",
    "description": "LibreOffice 7.4 UI message catalogs (.mo), msgid = English source",
}

_VOID = {"meta", "link", "img", "br", "hr", "col", "input", "area", "base", "wbr", "source"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6", "h"}
#: Paragraph classes that are code, images or link lists rather than prose.
_SKIP_CLASSES = {"code", "codeintable", "smathcode", "related", "image", "imageintable",
                 "youtube_consent", "example", "bascode", "pycode"}
_UNIT_ID = re.compile(r"^(par|hd)_id")
_NOT_FOUND = re.compile(r"\[text/\S+ not found\]")  # an embed the help build could not resolve
_BOOKMARK = re.compile(
    r'\{url:"[^/"]+/(text/[^?"#]+)(?:\?[^#"]*)?#([^"]+)",\s*app:"[^"]*",\s*text:"((?:[^"\\]|\\.)*)"\}')


class _PageParser(HTMLParser):
    """Collect (event, id, kind, text) in document order from one rendered help page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[str, str, str, str]] = []  # ("unit"|"bm", id, kind, text)
        self.title: list[str] = []
        self._in_title = False
        self._in_display = 0  # depth inside <div id="DisplayArea">
        self._stack: list[tuple[str, bool]] = []  # (tag, hides its subtree)
        self._hidden = 0
        self._cap: tuple[str, str, str] | None = None  # (tag, id, kind)
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "title":
            self._in_title = True
        if tag in _VOID:
            if tag == "br" and self._cap:
                self._buf.append(" ")
            return
        hides = "hidden" in a and not a.get("id", "").startswith("default")
        self._stack.append((tag, hides))
        self._hidden += hides
        if tag == "div" and a.get("id") == "DisplayArea":
            self._in_display = len(self._stack)
        if not self._in_display or self._hidden:
            return
        if tag == "a" and a.get("name", "").startswith("bm_"):
            self.events.append(("bm", a["name"], "keyword", ""))
        eid = a.get("id", "")
        if self._cap is None and _UNIT_ID.match(eid) and (tag == "p" or tag in _HEADINGS):
            classes = set(a.get("class", "").split())
            if not classes & _SKIP_CLASSES:
                self._cap = (tag, eid, "heading" if tag in _HEADINGS else "paragraph")
                self._buf = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _VOID or not any(t == tag for t, _ in self._stack):
            return
        while self._stack:
            t, hides = self._stack.pop()
            self._hidden -= hides
            if self._in_display > len(self._stack):
                self._in_display = 0
            if self._cap and t == self._cap[0]:
                ctag, eid, kind = self._cap
                self._cap = None
                text = clean_text("".join(self._buf))
                self.events.append(("unit", eid, kind, "" if _NOT_FOUND.search(text) else text))
            if t == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif self._cap and not self._hidden:
            self._buf.append(data)


def parse_help_page(path: Path) -> tuple[str, list[tuple[str, str, str, str]]]:
    """Return (title, events) of one rendered help page; events are unit texts and bookmarks."""
    p = _PageParser()
    p.feed(path.read_text(encoding="utf-8", errors="replace"))
    p.close()
    return clean_text("".join(p.title)), p.events


def keyword_text(raw: str) -> str:
    """``"fields -- HTML import"`` → ``"fields, HTML import"`` (index entry → query-like text)."""
    text = html.unescape(raw.replace('\\"', '"').replace("\\\\", "\\"))
    return clean_text(re.sub(r"\s*--\s*", ", ", text))


def read_bookmarks(path: Path) -> dict[tuple[str, str], str]:
    """Single-keyword bookmarks of a ``bookmarks.js``: {(page path, bookmark id): keyword}."""
    groups: dict[tuple[str, str], set[str]] = {}
    for m in _BOOKMARK.finditer(path.read_text(encoding="utf-8", errors="replace")):
        groups.setdefault((m[1], m[2]), set()).add(keyword_text(m[3]))
    return {k: next(iter(v)) for k, v in groups.items() if len(v) == 1}


def _help_lang_dir(root: Path, package: str) -> Path:
    dirs = [d for d in (root / "usr/share/libreoffice/help").glob("*") if (d / "text").is_dir()]
    own = [d for d in dirs if d.name.lower() == package.removeprefix("libreoffice-help-")]
    if len(dirs) > 1 and len(own) == 1:  # libreoffice-help-ca also ships ca-valencia
        return own[0]
    if len(dirs) != 1:
        raise MimoError(f"{package}: expected one help/<lang>/text dir, found {[d.name for d in dirs]}")
    return dirs[0]


def _page_id(rel: str) -> str:
    return f"{HELP_SOURCE}:{rel.removesuffix('.html')}.xhp"


def parse_help_tree(lang_dir: Path, rels: Sequence[str]) -> dict[str, tuple[str, list]]:
    """Parse the pages ``rels`` that exist under one language's help dir."""
    return {rel: parse_help_page(lang_dir / rel) for rel in rels if (lang_dir / rel).exists()}


def iter_help_units_from(lang_dirs: dict[str, Path], versions: dict[str, str] | None = None,
                         workers: int | None = None) -> Iterator[AlignedUnit]:
    """Align help pages across ``lang_dirs`` ({iso: help/<locale> dir}, must include ``en``).

    Yields units in English document order: the page title, then headings, paragraphs and
    (at their bookmark anchors) single-keyword index entries. Units without any translation
    are skipped. Languages are parsed in ``workers`` processes (default: up to 4 CPUs).
    """
    if "en" not in lang_dirs:
        raise MimoError("aligning LibreOffice help needs the English pages (libreoffice-help-en-us)")
    versions = versions or {}
    bookmarks = {lg: read_bookmarks(d / "bookmarks.js") if (d / "bookmarks.js").exists() else {}
                 for lg, d in lang_dirs.items()}
    en_root = lang_dirs["en"]
    rels = [p.relative_to(en_root).as_posix() for p in sorted(en_root.glob("text/**/*.html"))]
    langs = list(lang_dirs)
    workers = min(workers or min(4, os.cpu_count() or 1), len(langs))
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            trees = dict(zip(langs, pool.map(parse_help_tree, [lang_dirs[lg] for lg in langs],
                                             [rels] * len(langs)), strict=True))
    else:
        trees = {lg: parse_help_tree(lang_dirs[lg], rels) for lg in langs}
    for rel in rels:
        pages = {lg: trees[lg][rel] for lg in langs if rel in trees[lg]}
        if "en" in pages and len(pages) >= 2:
            yield from _align_page(rel, pages, bookmarks, versions)


def _align_page(rel: str, pages: dict[str, tuple[str, list]], bookmarks: dict[str, dict],
                versions: dict[str, str]) -> Iterator[AlignedUnit]:
    page_id = _page_id(rel)
    unit_maps = {lg: {eid: t for ev, eid, _k, t in evs if ev == "unit"} for lg, (_, evs) in pages.items()}
    seen: set[str] = set()

    def make(uid: str, kind: str, texts: dict[str, str]) -> AlignedUnit | None:
        texts = {lg: t for lg, t in texts.items() if t}
        if "en" not in texts or len(texts) < 2 or uid in seen:
            return None
        seen.add(uid)
        return AlignedUnit(HELP_SOURCE, page_id, f"{page_id}#{uid}", kind, texts,
                           {help_package(lg): versions.get(lg, "") for lg in texts})

    en_title, en_events = pages["en"]
    if u := make("title", "title", {lg: t for lg, (t, _) in pages.items()}):
        yield u
    for ev, eid, kind, text in en_events:
        if ev == "bm":
            u = make(eid, "keyword", {lg: bookmarks[lg].get((rel, eid), "") for lg in pages})
        elif kind == "heading" and text == en_title:
            continue  # the h1 repeats the page title
        else:
            u = make(eid, kind, {lg: m.get(eid, "") for lg, m in unit_maps.items()})
        if u:
            yield u


def iter_help_units(langs: Sequence[str] = TARGET_LANGS) -> Iterator[AlignedUnit]:
    """Fetch (cached) the English + per-language help packages and yield aligned units."""
    dirs: dict[str, Path] = {}
    versions: dict[str, str] = {}
    for lg in ["en", *(x for x in langs if x in HELP_LANGS)]:
        fetched, root = fetch_and_extract_deb(help_package(lg))
        try:
            dirs[lg], versions[lg] = _help_lang_dir(root, fetched.name), fetched.version
        except MimoError as e:
            if lg == "en":
                raise
            log.warning("skipping %s: %s", fetched.name, e)  # e.g. libreoffice-help-sk 7.4 ships no pages
    yield from iter_help_units_from(dirs, versions)


# ----------------------------------------------------------------------------- UI catalogs

_MNEMONIC = re.compile(r"(?<![_~])[_~](?![_~])")
_PLACEHOLDER = re.compile(r"\$\(ARG\d+\)|%[A-Z][A-Z0-9_]+%?|%\d+|%[sdu]|\$[A-Z][A-Z0-9_]+\$?|\{[^{}\s]*\}")
_PRODUCT = re.compile(r"%PRODUCTNAME|\$\[officename\]|%PRODUCT_?NAME")


def clean_ui_text(text: str) -> str:
    """Strip accelerator marks (``~``/``_``) and placeholders; name the product."""
    text = _PRODUCT.sub("LibreOffice", text)
    text = _PLACEHOLDER.sub(" ", _MNEMONIC.sub("", text))
    return clean_text(text)


def iter_l10n_units_from(resource_dirs: dict[str, Path], versions: dict[str, str] | None = None
                         ) -> Iterator[AlignedUnit]:
    """Align UI catalogs across languages by (catalog, msgctxt, msgid).

    ``resource_dirs`` maps ISO codes to ``…/resource/<locale>/LC_MESSAGES`` dirs.
    """
    versions = versions or {}
    table: dict[tuple[str, str, str], dict[str, str]] = {}
    for lg, d in resource_dirs.items():
        for mo in sorted(d.glob("*.mo")):
            _header, entries = read_mo(mo)
            for e in entries:
                if e.msgstr and e.msgstr != e.msgid:
                    table.setdefault((mo.stem, e.msgctxt or "", e.msgid), {})[lg] = e.msgstr
    for (cat, ctxt, msgid), trans in sorted(table.items()):
        en = clean_ui_text(msgid)
        texts = {lg: clean_ui_text(t) for lg, t in trans.items()}
        texts = {lg: t for lg, t in texts.items() if t}
        if not en or not texts:
            continue
        page_id = f"{L10N_SOURCE}:{cat}"
        h = hashlib.sha1(f"{ctxt}\x04{msgid}".encode()).hexdigest()[:12]
        yield AlignedUnit(L10N_SOURCE, page_id, f"{page_id}#{h}", "message", {"en": en, **texts},
                          {l10n_package(lg): versions.get(lg, "") for lg in texts})


def iter_l10n_units(langs: Sequence[str] = TARGET_LANGS) -> Iterator[AlignedUnit]:
    """Fetch (cached) the ``libreoffice-l10n-<lang>`` packages and yield aligned UI messages."""
    dirs: dict[str, Path] = {}
    versions: dict[str, str] = {}
    for lg in langs:
        if lg == "en":
            continue
        fetched, root = fetch_and_extract_deb(l10n_package(lg))
        found = [d for d in (root / "usr/lib/libreoffice/program/resource").glob("*/LC_MESSAGES")
                 if normalize_lang(d.parent.name, strict=False) == lg]
        if not found:
            raise MimoError(f"{fetched.name}: no program/resource/<{lg}>/LC_MESSAGES catalogs inside")
        # the package's own locale first (``sr`` before ``sr-Latn``), never the directory order
        own = _DEB_LOCALE.get(lg, lg)
        found.sort(key=lambda d: (d.parent.name.lower().replace("_", "-") != own, d.parent.name))
        dirs[lg], versions[lg] = found[0], fetched.version
    yield from iter_l10n_units_from(dirs, versions)


def iter_units(langs: Sequence[str] = TARGET_LANGS) -> Iterator[AlignedUnit]:
    """Both LibreOffice sources: help units, then UI messages."""
    yield from iter_help_units(langs)
    yield from iter_l10n_units(langs)
