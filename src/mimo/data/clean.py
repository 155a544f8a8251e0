"""Text cleaning and the paper's parallel-data filters (length, ratio, dedup, untranslated, cap)."""

from __future__ import annotations

import html
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass

_TAG = re.compile(r"<[^>]{1,200}>")
_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+", re.UNICODE)

#: Unicode ranges of each non-Latin target language's script (letters outside Latin).
_SCRIPTS: dict[str, tuple[tuple[int, int], ...]] = {
    "ar": ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "hi": ((0x0900, 0x097F), (0xA8E0, 0xA8FF)),
    "ru": ((0x0400, 0x052F),),
    "ja": ((0x3040, 0x30FF), (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xFF66, 0xFF9F)),
    "zh": ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF)),
    "ko": ((0xAC00, 0xD7AF), (0x1100, 0x11FF), (0x3130, 0x318F)),
}
_CYRILLIC = ((0x0400, 0x052F),)
_DEVANAGARI = ((0x0900, 0x097F), (0xA8E0, 0xA8FF))
_SCRIPTS.update({
    **dict.fromkeys(("uk", "bg", "be", "mk", "sr", "kk", "mn", "tg"), _CYRILLIC),
    **dict.fromkeys(("mr", "ne"), _DEVANAGARI),
    **dict.fromkeys(("fa", "ug"), _SCRIPTS["ar"]),
    "el": ((0x0370, 0x03FF), (0x1F00, 0x1FFF)), "he": ((0x0590, 0x05FF), (0xFB1D, 0xFB4F)),
    "th": ((0x0E00, 0x0E7F),), "bn": ((0x0980, 0x09FF),), "as": ((0x0980, 0x09FF),),
    "pa": ((0x0A00, 0x0A7F),), "gu": ((0x0A80, 0x0AFF),), "or": ((0x0B00, 0x0B7F),),
    "ta": ((0x0B80, 0x0BFF),), "te": ((0x0C00, 0x0C7F),), "kn": ((0x0C80, 0x0CFF),),
    "ml": ((0x0D00, 0x0D7F),), "si": ((0x0D80, 0x0DFF),), "ka": ((0x10A0, 0x10FF), (0x1C90, 0x1CBF)),
    "am": ((0x1200, 0x139F),), "km": ((0x1780, 0x17FF), (0x19E0, 0x19FF)), "dz": ((0x0F00, 0x0FFF),),
})


def clean_text(text: str) -> str:
    """Unescape entities, drop tags and control characters, NFC-normalise and collapse whitespace."""
    text = html.unescape(_TAG.sub(" ", text))
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return _WS.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def native_letters(text: str, lang: str) -> tuple[int, int] | None:
    """(letters in ``lang``'s own script, all letters); None for Latin-script languages."""
    ranges = _SCRIPTS.get(lang)
    if ranges is None:
        return None
    letters = [ord(c) for c in text if c.isalpha()]
    return sum(any(lo <= cp <= hi for lo, hi in ranges) for cp in letters), len(letters)


def is_untranslated(english: str, translation: str, lang: str) -> bool:
    """True when ``translation`` is really the English text left untranslated.

    Identical after case/punctuation folding; for non-Latin scripts, no letter in the language's
    own script (or under 10% of >= 40 letters: English with a stray native word); for Latin
    scripts, >= 4 words and >= 80% word-set overlap (Jaccard) with the English side.
    """
    if _norm(english) == _norm(translation):
        return True
    counts = native_letters(translation, lang)
    if counts is not None:
        native, letters = counts
        return native == 0 or (letters >= 40 and native < 0.1 * letters)
    a, b = set(_WORD.findall(english.casefold())), set(_WORD.findall(translation.casefold()))
    if len(b) < 4:
        return False
    return len(a & b) / len(a | b) >= 0.8


@dataclass
class FilterConfig:
    """The parallel-data filters; saved in the manifest."""

    min_chars: int = 10
    max_chars: int = 512
    max_ratio: float = 3.0
    #: UI messages are short labels; keep those whose English has at least this many words.
    message_min_words: int = 4
    #: Rows kept per language (None: all), drawn with the build seed.
    cap: int | None = 50_000

    def to_dict(self) -> dict:
        return asdict(self)


#: Characters of English per character of these scripts (CJK text is denser), so the length and
#: ratio filters compare like with like; measured on LibreOffice help pairs (median ratios).
LENGTH_SCALE: dict[str, float] = {"ja": 2.5, "zh": 3.0, "ko": 2.0}


def reject_reason(english: str, translation: str, lang: str, kind: str, cfg: FilterConfig) -> str | None:
    """The first filter a pair fails (``length``, ``ratio``, ``words``, ``untranslated``) or None.

    Lengths are characters; a CJK translation's length is scaled by ``LENGTH_SCALE``.
    """
    le, lt = len(english), len(translation) * LENGTH_SCALE.get(lang, 1.0)
    if not (cfg.min_chars <= le <= cfg.max_chars and cfg.min_chars <= lt <= cfg.max_chars):
        return "length"
    if max(le, lt) > cfg.max_ratio * min(le, lt):
        return "ratio"
    if kind == "message" and len(english.split()) < cfg.message_min_words:
        return "words"
    if is_untranslated(english, translation, lang):
        return "untranslated"
    return None


def filter_pairs(rows: Iterable[dict], cfg: FilterConfig, seed: int = 0) -> tuple[list[dict], Counter]:
    """Apply the filters, dedup and the per-language cap to rows with english/translation/lang/kind.

    Dedup keeps the first row of each (lang, folded english, folded translation). Returns the kept
    rows (input order, except that capped languages keep a seeded random sample) and a Counter of
    drops by reason (``length``, ``ratio``, ``words``, ``untranslated``, ``duplicate``, ``cap``).
    """
    drops: Counter = Counter()
    seen: set[tuple[str, str, str]] = set()
    by_lang: dict[str, list[dict]] = {}
    for r in rows:
        reason = reject_reason(r["english"], r["translation"], r["lang"], r.get("kind", ""), cfg)
        if reason:
            drops[reason] += 1
            continue
        key = (r["lang"], r["english"].casefold(), r["translation"].casefold())
        if key in seen:
            drops["duplicate"] += 1
            continue
        seen.add(key)
        by_lang.setdefault(r["lang"], []).append(r)
    kept: list[dict] = []
    for lang in sorted(by_lang):
        lrows = by_lang[lang]
        if cfg.cap is not None and len(lrows) > cfg.cap:
            idx = sorted(random.Random(f"{seed}:{lang}").sample(range(len(lrows)), cfg.cap))
            drops["cap"] += len(lrows) - cfg.cap
            lrows = [lrows[i] for i in idx]
        kept.extend(lrows)
    return kept, drops
