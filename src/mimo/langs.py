"""Language codes: ISO 639-1 everywhere; every source's locale spelling maps here, in one table."""

from __future__ import annotations

#: The paper's target languages (plus English, the teacher's language).
TARGET_LANGS: tuple[str, ...] = (
    "ar", "de", "es", "fr", "hi", "id", "it", "ja", "ko", "nl", "pt", "ru", "vi", "zh",
)
ALL_LANGS: tuple[str, ...] = ("en", *TARGET_LANGS)

LANG_NAMES: dict[str, str] = {
    "en": "English", "ar": "Arabic", "de": "German", "es": "Spanish", "fr": "French",
    "hi": "Hindi", "id": "Indonesian", "it": "Italian", "ja": "Japanese", "ko": "Korean",
    "nl": "Dutch", "pt": "Portuguese", "ru": "Russian", "vi": "Vietnamese", "zh": "Chinese",
}

#: Source-specific locale names -> ISO 639-1. Keys are lower-cased with '-' for separators.
_ALIASES: dict[str, str] = {
    "en-us": "en", "en-gb": "en", "en_us": "en",
    "zh-cn": "zh", "zh-hans": "zh", "zh_cn": "zh", "zh-sg": "zh",
    "pt-br": "pt", "pt_br": "pt", "pt-pt": "pt",
    "es-es": "es", "fr-fr": "fr", "de-de": "de", "ja-jp": "ja", "ko-kr": "ko",
    "id-id": "id", "in": "id", "nl-nl": "nl", "ru-ru": "ru", "vi-vn": "vi",
    "ar-sa": "ar", "hi-in": "hi", "it-it": "it",
}

#: Locale names that are deliberately NOT merged (a different written standard).
EXCLUDED_LOCALES: frozenset[str] = frozenset({"zh-tw", "zh_tw", "zh-hant", "zh-hk"})


def normalize_lang(code: str, *, strict: bool = True) -> str | None:
    """Map a source's locale name (``pt_BR``, ``zh-CN``, ``de``) to ISO 639-1.

    Returns None for excluded locales (e.g. zh_TW). With ``strict`` an unknown code raises
    ``ValueError`` naming it; otherwise it is returned lower-cased.
    """
    key = code.strip().lower().replace("@", "-")
    if key in EXCLUDED_LOCALES or key.replace("_", "-") in EXCLUDED_LOCALES:
        return None
    key = key.replace("_", "-")
    if key in _ALIASES:
        return _ALIASES[key]
    if key in LANG_NAMES:
        return key
    base = key.split("-")[0]
    if base in LANG_NAMES and base != "zh":
        return base
    if strict:
        raise ValueError(
            f"unknown language code {code!r}; expected an ISO 639-1 code among {', '.join(ALL_LANGS)}"
        )
    return key


def check_lang(code: str, where: str = "") -> str:
    """Validate an ISO code already in normal form; raise a ValueError naming ``where``."""
    if code not in LANG_NAMES:
        loc = f" in {where}" if where else ""
        raise ValueError(f"unknown language code {code!r}{loc}; known: {', '.join(ALL_LANGS)}")
    return code
