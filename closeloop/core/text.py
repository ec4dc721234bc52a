"""Search text: how work orders become findable by 2-character Chinese words.

Chinese has no spaces, and both SQLite's FTS5 trigram tokenizer and PostgreSQL's
pg_trgm need three characters, so we index CJK text as overlapping bigrams plus
single characters, and everything else as lower-cased words. The same token
stream is stored in `WorkOrder.search_document` and indexed by FTS5 (SQLite) or a
GIN index over `array_to_tsvector` (PostgreSQL); `query_tokens` turns a user's
query into the tokens that must all be present.
"""

import re
import unicodedata

_CJK = (
    "\u3040-\u30ff"  # kana
    "\u3400-\u4dbf"  # CJK ext A
    "\u4e00-\u9fff"  # CJK unified
    "\uac00-\ud7af"  # hangul
    "\uf900-\ufaff"  # compatibility ideographs
)
# A Latin/digit run stops at the first CJK character, so "12层制冷" still yields 制冷.
_RUN = re.compile(rf"([{_CJK}]+)|((?:(?![{_CJK}])[^\W_])+)", re.UNICODE)
MAX_DOCUMENT_TOKENS = 4000
MAX_QUERY_TOKENS = 24


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def _cjk_tokens(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    out = list(run)
    out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def document_tokens(*parts: str) -> str:
    """The space-separated, de-duplicated token string stored for a document."""
    seen: dict[str, None] = {}
    for part in parts:
        for cjk, word in _RUN.findall(_normalize(part)):
            for tok in _cjk_tokens(cjk) if cjk else [word[:64]]:
                seen.setdefault(tok, None)
                if len(seen) >= MAX_DOCUMENT_TOKENS:
                    return " ".join(seen)
    return " ".join(seen)


def query_tokens(query: str) -> list[tuple[str, bool]]:
    """Tokens that must all match, each with whether it is a prefix (Latin words)."""
    out: list[tuple[str, bool]] = []
    for cjk, word in _RUN.findall(_normalize(query)):
        if cjk:
            toks = [cjk] if len(cjk) == 1 else [cjk[i : i + 2] for i in range(len(cjk) - 1)]
            out.extend((t, False) for t in toks)
        else:
            out.append((word[:64], True))
    # keep order, drop repeats
    seen: dict[tuple[str, bool], None] = {}
    for t in out:
        seen.setdefault(t, None)
    return list(seen)[:MAX_QUERY_TOKENS]
