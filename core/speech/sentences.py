"""Cut streamed answer text into pieces worth speaking: whole sentences as soon as they end,
or a clause once it is long, so the first sound does not wait for the whole answer.

A period ends a sentence only when whitespace follows it and it does not close a known
abbreviation ("Dr.", "e.g."), an initial ("J.") or a number's decimal point ("3.5" has no
space after its point). Text is only cut at whitespace, so a piece never splits a word.
"""

from __future__ import annotations

import re

# Words that end in a period mid-sentence ("etc." and "no." end sentences too often to list).
_ABBREVIATIONS = frozenset(
    ["mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "e.g", "i.e", "approx"]
)
# A sentence end: . ! ? or … (closing quotes and brackets may follow), then whitespace.
_END = re.compile(r"[.!?…]+[\"')\]]*(?=\s)")
# A clause end: , ; : or a dash, then whitespace.
_CLAUSE = re.compile(r"(?:[,;:]|\s[-–—])(?=\s)")


class SentenceSplitter:
    """Feed text as it streams in; take out complete pieces to speak, in order."""

    def __init__(self, clause_words: int = 12) -> None:
        #: a clause is spoken on its own once the text so far has at least this many words
        self.clause_words = clause_words
        self._buffer = ""

    def feed(self, text: str) -> list[str]:
        """Add streamed text; the pieces completed by it."""
        self._buffer += text
        pieces = []
        while (cut := self._cut()) is not None:
            piece, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if _speakable(piece):
                pieces.append(piece)
        return pieces

    def flush(self) -> list[str]:
        """The rest, at the end of the answer."""
        piece, self._buffer = self._buffer.strip(), ""
        return [piece] if _speakable(piece) else []

    def _cut(self) -> int | None:
        for match in _END.finditer(self._buffer):
            if not _is_abbreviation(self._buffer, match.start()):
                return match.end()
        if len(self._buffer.split()) >= self.clause_words:
            clauses = list(_CLAUSE.finditer(self._buffer))
            # the last clause end with enough words before it keeps pieces long
            for match in clauses:
                if len(self._buffer[: match.end()].split()) >= self.clause_words // 2:
                    return match.end()
        return None


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    word = text[:dot].split()[-1:] or [""]
    token = word[0].lower().lstrip("(\"'")
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def _speakable(piece: str) -> bool:
    return any(ch.isalnum() for ch in piece)
