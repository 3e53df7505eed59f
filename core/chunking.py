"""Word buffering: streamed text pieces in, chunks of N whole words out.

A streamer's pieces are not words: they may be empty, end mid-word, carry several words, or
(for CJK) one character at a time. A word is complete only once whitespace follows it, so the
last, unterminated word waits for the next piece or for :meth:`WordChunker.finish`.
"""

from __future__ import annotations


class WordChunker:
    def __init__(self, words_per_chunk: int) -> None:
        if words_per_chunk < 1:
            raise ValueError(f"words_per_chunk must be >= 1, got {words_per_chunk}")
        self.words_per_chunk = words_per_chunk
        self._words: list[str] = []
        self._partial = ""

    def feed(self, piece: str) -> list[str]:
        """Add a piece of text; return the chunks (space-joined words) it completes."""
        if not piece:
            return []
        text = self._partial + piece
        words = text.split()
        if text[-1].isspace():
            self._partial = ""
        else:
            self._partial = words.pop() if words else ""
        self._words.extend(words)
        chunks = []
        n = self.words_per_chunk
        while len(self._words) >= n:
            chunks.append(" ".join(self._words[:n]))
            del self._words[:n]
        return chunks

    def finish(self) -> str:
        """The rest: buffered words plus any unterminated last word (may be empty)."""
        rest = self._words + ([self._partial] if self._partial else [])
        self._words, self._partial = [], ""
        return " ".join(rest)
