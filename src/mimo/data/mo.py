"""A minimal reader for GNU gettext binary catalogs (``.mo``), keeping msgctxt apart from msgid."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from mimo.errors import InputError

_MAGIC = {0x950412DE: "<", 0xDE120495: ">"}


@dataclass(frozen=True)
class MoEntry:
    """One catalog entry; plural entries keep only the singular forms."""

    msgctxt: str | None
    msgid: str
    msgstr: str


def read_mo(path: str | Path) -> tuple[dict[str, str], list[MoEntry]]:
    """Parse a ``.mo`` file into (header fields, entries).

    In the binary format a context is stored as ``msgctxt + "\\x04" + msgid``; plural forms are
    NUL-separated (the first form is kept). The header (empty msgid) is returned as a dict.
    Raises ``InputError`` naming the file when it is not a valid catalog.
    """
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 20:
        raise InputError(f"{path}: too short to be a .mo catalog ({len(data)} bytes)")
    end = _MAGIC.get(struct.unpack("<I", data[:4])[0])
    if end is None:
        raise InputError(f"{path}: not a .mo catalog (bad magic number)")
    _rev, n, orig_off, trans_off = struct.unpack(end + "4I", data[4:20])
    if orig_off + 8 * n > len(data) or trans_off + 8 * n > len(data):
        raise InputError(f"{path}: truncated .mo catalog ({n} entries declared)")
    header: dict[str, str] = {}
    entries: list[MoEntry] = []
    for i in range(n):
        olen, opos = struct.unpack_from(end + "2I", data, orig_off + 8 * i)
        tlen, tpos = struct.unpack_from(end + "2I", data, trans_off + 8 * i)
        if opos + olen > len(data) or tpos + tlen > len(data):
            raise InputError(f"{path}: entry {i} points past the end of the file (truncated?)")
        try:
            key = data[opos:opos + olen].decode("utf-8")
            val = data[tpos:tpos + tlen].decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{path}: entry {i} is not UTF-8 ({e})") from None
        if key == "":
            for line in val.splitlines():
                if ":" in line:
                    k, v = line.split(":", 1)
                    header[k.strip()] = v.strip()
            continue
        ctxt, sep, msgid = key.partition("\x04")
        if not sep:
            ctxt, msgid = None, key
        entries.append(MoEntry(ctxt, msgid.split("\x00")[0], val.split("\x00")[0]))
    return header, entries
