"""GNOME user docs (Debian ``gnome-user-docs``): Mallard pages aligned block by block.

Every language directory (``usr/share/help/<locale>/<guide>/*.page``) holds the same pages, made
by itstool from the English source, so a block's structural path (``section[1]/steps[0]/item[2]/p[0]``)
names the same text in every language. A translated page whose block paths differ from the English
page is skipped whole. Untranslated blocks (itstool leaves them in English) are dropped per language.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from pathlib import Path

from mimo.data.types import AlignedUnit, aligned_by_key
from mimo.langs import TARGET_LANGS, normalize_lang

PACKAGE = "gnome-user-docs"
SOURCE = "gnome-user-docs"
GUIDES: tuple[str, ...] = ("gnome-help", "system-admin-guide")
SOURCE_INFO: dict = {
    "packages": [PACKAGE],
    "licence": "CC-BY-SA-3.0",
    "kind": "debian",
    "url": "https://gitlab.gnome.org/GNOME/gnome-user-docs",
    "description": "GNOME Help and System Administration Guide, Mallard pages per language",
}

#: When two locale dirs map to one ISO code, the first listed wins (pt_BR is the fuller one).
_PREFERRED = {"pt": ("pt_BR", "pt")}
_MAL = "{http://projectmallard.org/1.0/}"
_BLOCKS = {"title", "subtitle", "desc", "p"}
_SKIP = {"comment", "code", "screen", "synopsis", "credit", "revision", "link", "include"}
_WS = re.compile(r"\s+")


def _local(tag: object) -> str | None:
    """Mallard local name of an element tag, or None for other namespaces / comments."""
    if not isinstance(tag, str) or not tag.startswith(_MAL):
        return None
    return tag[len(_MAL):]


def _inline_text(el: ET.Element) -> str | None:
    """Rendered text of an inline run; None when it depends on another page (empty ``<link>``)."""
    parts = [el.text or ""]
    for child in el:
        name = _local(child.tag)
        if name == "comment":
            sub = ""
        elif name in ("link", "xref") and not "".join(child.itertext()).strip():
            return None  # Mallard fills it with the target page's title
        elif name in ("keyseq", "guiseq"):
            keys = [_inline_text(k) for k in child if _local(k.tag) is not None]
            if any(k is None for k in keys):
                return None
            sub = ("+" if name == "keyseq" else " ▸ ").join(k.strip() for k in keys if k)  # type: ignore[union-attr]
        else:
            got = _inline_text(child)
            if got is None:
                return None
            sub = got
        parts.append(sub)
        parts.append(child.tail or "")
    return "".join(parts)


def clean(text: str) -> str:
    return _WS.sub(" ", text).strip()


def page_blocks(path: Path) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """Parse one page: (ordered block paths, {path: (kind, text)} for blocks with usable text)."""
    root = ET.parse(path).getroot()
    order: list[str] = []
    units: dict[str, tuple[str, str]] = {}

    def walk(el: ET.Element, prefix: str, depth: int) -> None:
        counts: dict[str, int] = {}
        for child in el:
            name = _local(child.tag)
            if name is None or name in _SKIP:
                continue
            idx = counts.get(name, 0)
            counts[name] = idx + 1
            here = f"{prefix}{name}[{idx}]"
            if name == "info":
                for d, desc in enumerate(c for c in child if _local(c.tag) == "desc"):
                    _add(f"{here}/desc[{d}]", "description" if depth == 0 else "heading", desc)
            elif name in _BLOCKS:
                kind = "paragraph" if name == "p" else ("title" if depth == 0 else "heading")
                _add(here, kind, child)
            else:
                walk(child, here + "/", depth + 1)

    def _add(key: str, kind: str, el: ET.Element) -> None:
        order.append(key)
        text = _inline_text(el)
        if text is not None and (text := clean(text)):
            units[key] = (kind, text)

    walk(root, "", 0)
    return order, units


def locale_dirs(help_root: Path, langs: Sequence[str]) -> dict[str, Path]:
    """ISO code -> the locale dir used for it (excluded locales such as zh_TW never appear)."""
    found: dict[str, list[Path]] = {}
    for d in sorted(help_root.iterdir()):
        if not d.is_dir() or d.name == "C":
            continue
        iso = normalize_lang(d.name, strict=False)
        if iso in langs:
            found.setdefault(iso, []).append(d)
    out = {}
    for iso, dirs in found.items():
        pref = _PREFERRED.get(iso, ())
        dirs.sort(key=lambda p: pref.index(p.name) if p.name in pref else len(pref))
        out[iso] = dirs[0]
    return out


def iter_units_from(
    help_root: Path, langs: Sequence[str] = TARGET_LANGS, version: str = "", guides: Sequence[str] = GUIDES
) -> Iterator[AlignedUnit]:
    """Aligned units from an extracted ``usr/share/help`` dir (the C dir is English)."""
    dirs = locale_dirs(help_root, langs)
    for guide in guides:
        en_dir = help_root / "C" / guide
        if not en_dir.is_dir():
            continue
        for en_page in sorted(en_dir.glob("*.page")):
            order, en_units = page_blocks(en_page)
            per_lang: dict[str, dict[str, tuple[str, str]]] = {}
            for iso, ldir in dirs.items():
                tr_page = ldir / guide / en_page.name
                if not tr_page.exists():
                    continue
                tr_order, tr_units = page_blocks(tr_page)
                if tr_order == order:  # same structure: positions can be trusted
                    per_lang[iso] = tr_units
            page_id = f"{guide}/{en_page.stem}"
            yield from aligned_by_key(SOURCE, page_id, order, en_units, per_lang, {PACKAGE: version})


def iter_units(langs: Sequence[str] = TARGET_LANGS) -> Iterator[AlignedUnit]:
    """Fetch ``gnome-user-docs`` (cached) and yield its aligned units."""
    from mimo.fetch import fetch_and_extract_deb

    fetched, root = fetch_and_extract_deb(PACKAGE)
    yield from iter_units_from(root / "usr" / "share" / "help", langs, fetched.version)
