"""Slugs for org unit paths and e-mail local parts, from names in any script.

The services take slugs of ASCII letters, digits, `_`, `.` and `-` (the org
unit schema's pattern; paths are made of them), so a name is transliterated:
accents dropped (`José` -> `jose`), Chinese characters in pinyin with
pypinyin (`张伟` -> `zhang-wei`). Transliteration loses information (张伟 and
章伟 are both `zhang-wei`; so are `José` and `Jose`), so a name that needed it
gets a short stable hash of the name as written (`zhang-wei-3f9a1c`): two
different names never share a slug, and the same name always gets the same one.
A name in ASCII keeps today's slug (`Mo Chen` -> `mo-chen`). A script with
no transliteration here (Cyrillic, Arabic, ...), or a name of punctuation
only, keeps only the hash (`u-8c2e4b`), never a lone letter; an empty value
stays empty (the API refuses it with a reason).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

MAX_LENGTH = 100  # the org unit schema's slug length
_HASH = 6  # hex digits: 16 million values, for names in one import
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


@lru_cache(maxsize=65536)
def slug(value: str) -> str:
    text = unicodedata.normalize("NFC", value.strip())
    if text.isascii():
        base = _NOT_SLUG.sub("-", text.lower()).strip("-")
        if base or not text:
            return base[:MAX_LENGTH].strip("-")
    else:
        base = _NOT_SLUG.sub("-", _ascii(text).lower()).strip("-")
    mark = hashlib.sha256(text.encode()).hexdigest()[:_HASH]
    return f"{base[: MAX_LENGTH - _HASH - 1].strip('-') or 'u'}-{mark}"


def _ascii(text: str) -> str:
    if _HAN.search(text):
        from pypinyin import Style, lazy_pinyin  # loaded only for Chinese names (its dictionary is large)

        # One word a character, so 张伟 -> "zhang wei", not "zhangwei".
        text = " ".join(lazy_pinyin(text, style=Style.NORMAL, errors=lambda chars: chars))
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii())
