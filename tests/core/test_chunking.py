"""Word buffering (core.chunking): whole words, N at a time, nothing lost."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.chunking import WordChunker


def run(pieces, n):
    chunker = WordChunker(n)
    chunks = [c for p in pieces for c in chunker.feed(p)]
    return chunks, chunker.finish()


def test_streamer_style_pieces():
    pieces = [
        "",
        "The ",
        "",
        "quick ",
        "brown ",
        "",
        "fox ",
        "jumps ",
        "over ",
        "the ",
        "lazy ",
        "dog.",
    ]
    chunks, rest = run(pieces, 4)
    assert chunks == ["The quick brown fox", "jumps over the lazy"]
    assert rest == "dog."


def test_a_word_split_across_pieces_is_not_split():
    chunks, rest = run(["Hel", "lo wor", "ld and", " more ", "words"], 2)
    assert chunks == ["Hello world", "and more"]
    assert rest == "words"


def test_trailing_and_repeated_whitespace_collapse():
    chunks, rest = run(["  one  ", "\n\ntwo\t", "three   "], 3)
    assert chunks == ["one two three"]
    assert rest == ""


def test_empty_stream_and_only_spaces():
    assert run([], 4) == ([], "")
    assert run(["", "   ", "\n"], 4) == ([], "")


def test_cjk_characters_streamed_one_by_one():
    # TextIteratorStreamer emits CJK per character with no spaces: it is one "word" until a space.
    chunks, rest = run(list("你好世界") + [" ", "再见"], 1)
    assert chunks == ["你好世界"]
    assert rest == "再见"


def test_chunk_size_one_and_exact_multiple():
    chunks, rest = run(["a b c d "], 1)
    assert chunks == ["a", "b", "c", "d"] and rest == ""
    chunks, rest = run(["a b c d"], 2)
    assert chunks == ["a b"] and rest == "c d"


def test_chunk_size_must_be_positive():
    with pytest.raises(ValueError, match=">= 1"):
        WordChunker(0)


@given(
    st.text(alphabet=st.sampled_from("ab é,.\n\t字 "), max_size=80),
    st.integers(1, 6),
    st.data(),
)
def test_no_word_is_lost_or_split(text, n, data):
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=10)))
    pieces = [text[i:j] for i, j in zip([0, *cuts], [*cuts, len(text)])]
    chunks, rest = run(pieces, n)
    assert all(len(c.split()) == n for c in chunks)
    assert len(rest.split()) <= n
    assert " ".join(c for c in [*chunks, rest] if c) == " ".join(text.split())
