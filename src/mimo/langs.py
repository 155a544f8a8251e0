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

#: Every further language the packaged sources carry (Debian bookworm ``libreoffice-l10n-*`` /
#: ``libreoffice-help-*``, GNOME docs, gettext catalogs): ISO 639-1, or ISO 639-3 where a language
#: has no two-letter code (``ast``, ``nso``, ``szl``). ``mimo data build --langs all`` builds these too.
EXTRA_LANG_NAMES: dict[str, str] = {
    "af": "Afrikaans", "am": "Amharic", "as": "Assamese", "ast": "Asturian", "be": "Belarusian",
    "bg": "Bulgarian", "bn": "Bengali", "br": "Breton", "bs": "Bosnian", "ca": "Catalan", "cs": "Czech",
    "cy": "Welsh", "da": "Danish", "dz": "Dzongkha", "el": "Greek", "eo": "Esperanto", "et": "Estonian",
    "eu": "Basque", "fa": "Persian", "fi": "Finnish", "ga": "Irish", "gd": "Scottish Gaelic",
    "gl": "Galician", "gn": "Guarani", "gu": "Gujarati", "he": "Hebrew", "hr": "Croatian",
    "hu": "Hungarian", "is": "Icelandic", "ka": "Georgian", "kk": "Kazakh", "km": "Khmer",
    "kn": "Kannada", "ku": "Kurdish (Kurmanji)", "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian",
    "ml": "Malayalam", "mn": "Mongolian", "mr": "Marathi", "nb": "Norwegian Bokmål", "ne": "Nepali",
    "nn": "Norwegian Nynorsk", "nr": "South Ndebele", "nso": "Northern Sotho", "oc": "Occitan",
    "om": "Oromo", "or": "Odia", "pa": "Punjabi", "pl": "Polish", "ro": "Romanian", "rw": "Kinyarwanda",
    "si": "Sinhala", "sk": "Slovak", "sl": "Slovenian", "sr": "Serbian", "ss": "Swati",
    "st": "Southern Sotho", "sv": "Swedish", "szl": "Silesian", "ta": "Tamil", "te": "Telugu",
    "tg": "Tajik", "th": "Thai", "tn": "Tswana", "tr": "Turkish", "ts": "Tsonga", "ug": "Uyghur",
    "uk": "Ukrainian", "uz": "Uzbek", "ve": "Venda", "xh": "Xhosa", "zu": "Zulu",
}
LANG_NAMES.update(EXTRA_LANG_NAMES)
#: ``--langs all``: every non-English language of the packaged sources (the paper's 14 first).
SOURCE_LANGS: tuple[str, ...] = (*TARGET_LANGS, *sorted(EXTRA_LANG_NAMES))

#: Source-specific locale names -> ISO 639-1. Keys are lower-cased with '-' for separators.
_ALIASES: dict[str, str] = {
    "en-us": "en", "en-gb": "en", "en_us": "en",
    "zh-cn": "zh", "zh-hans": "zh", "zh_cn": "zh", "zh-sg": "zh",
    "pt-br": "pt", "pt_br": "pt", "pt-pt": "pt",
    "es-es": "es", "fr-fr": "fr", "de-de": "de", "ja-jp": "ja", "ko-kr": "ko",
    "id-id": "id", "in": "id", "nl-nl": "nl", "ru-ru": "ru", "vi-vn": "vi",
    "ar-sa": "ar", "hi-in": "hi", "it-it": "it",
    # LibreOffice / gettext spellings of languages without (or with another) two-letter code
    "pa-in": "pa", "gug": "gn", "kmr": "ku", "kmr-latn": "ku", "kmr-latin": "ku", "nb-no": "nb", "nn-no": "nn", "no": "nb",
}

#: Locale names that are deliberately NOT merged (a different written standard).
EXCLUDED_LOCALES: frozenset[str] = frozenset({"zh-tw", "zh_tw", "zh-hant", "zh-hk"})


def parse_langs(values: list[str] | tuple[str, ...] | str | None, default: tuple[str, ...] = TARGET_LANGS) -> tuple[str, ...]:
    """``--langs`` values (repeated and/or comma-separated; ``all`` = :data:`SOURCE_LANGS`) → ISO codes."""
    if isinstance(values, str):
        values = [values]
    codes = [c.strip() for v in (values or []) for c in v.split(",") if c.strip()]
    if not codes:
        return default
    out: list[str] = []
    for c in codes:
        for code in SOURCE_LANGS if c.lower() == "all" else (normalize_lang(c) or c,):
            if code not in out:
                out.append(code)
    return tuple(out)


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
            f"unknown language code {code!r}; expected an ISO 639-1 code such as {', '.join(ALL_LANGS)} "
            f"(all {len(LANG_NAMES)} known codes: mimo.langs.LANG_NAMES)"
        )
    return key


def check_lang(code: str, where: str = "") -> str:
    """Validate an ISO code already in normal form; raise a ValueError naming ``where``."""
    if code not in LANG_NAMES:
        loc = f" in {where}" if where else ""
        raise ValueError(f"unknown language code {code!r}{loc}; known: {', '.join(LANG_NAMES)}")
    return code
