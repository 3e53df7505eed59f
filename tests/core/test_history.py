"""The conversation history's SQLite store, on real files: what is kept and found, what is
deleted, the clips only when asked, and a damaged, locked or newer file as a clear message."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from core.history import HistoryStore, HistoryUnavailable, TurnRecord
from tests.conftest import thread_names


@pytest.fixture
def store(tmp_path):
    opened = HistoryStore(tmp_path / "data" / "history.sqlite3")
    yield opened
    opened.close()


def turn(heard: str, answer: str, **extra) -> TurnRecord:
    return TurnRecord(
        mode="conversation", clip_s=1.5, heard=heard, answer=answer, **extra
    )


def test_turns_are_kept_in_order_and_the_latest_conversation_comes_first(store):
    first, second = store.new_conversation(), store.new_conversation()
    store.add_turn(first, turn("What is the capital of France?", "Paris."))
    store.add_turn(first, turn("And of Italy?", "Rome.", badges=["first chunk 800 ms"]))
    store.add_turn(second, turn("How many days are in a week?", "Seven."))
    assert store.flush()
    assert [c.id for c in store.conversations()] == [second, first]
    assert store.latest().title == "How many days are in a week?"
    older = store.conversations()[1]
    assert older.title == "What is the capital of France?" and older.turns == 2
    kept = store.turns(first)
    assert [t.record.answer for t in kept] == ["Paris.", "Rome."]
    assert kept[1].record.badges == ["first chunk 800 ms"]
    assert kept[0].clip is None  # clips are not kept unless the user says so


def test_a_word_finds_its_conversation_in_what_was_said_or_answered(store):
    france, week = store.new_conversation(), store.new_conversation()
    store.add_turn(france, turn("What is the capital of France?", "Paris."))
    store.add_turn(week, turn("How many days are in a week?", "There are seven days."))
    store.flush()
    (found,) = store.search("FRANCE")  # any case
    assert found.conversation.id == france and "[France]" in found.excerpt
    assert [f.conversation.id for f in store.search("seven")] == [week]  # an answer
    assert [f.conversation.id for f in store.search("ar")] == [
        week,
        france,
    ]  # short: LIKE
    assert store.search("Berlin") == [] and store.search("   ") == []
    assert store.search('"quoted" 100% _x_') == []  # query syntax is just text


def test_deleting_one_or_all(store):
    keep, drop = store.new_conversation(), store.new_conversation()
    store.add_turn(keep, turn("Kept question", "Kept answer"))
    store.add_turn(drop, turn("Dropped question", "Dropped answer"))
    store.flush()
    store.delete(drop)
    store.flush()
    assert [c.id for c in store.conversations()] == [keep]
    assert store.search("Dropped") == [] and store.turns(drop) == []
    store.delete_all()
    store.flush()
    assert store.conversations() == [] and store.search("Kept") == []


def test_clips_are_kept_only_when_asked(tmp_path):
    clip = np.linspace(-0.5, 0.5, 1600, dtype=np.float32)
    for keep in (False, True):
        store = HistoryStore(tmp_path / f"{keep}.sqlite3", keep_clips=keep)
        try:
            cid = store.new_conversation()
            store.add_turn(cid, turn("Hello", "Hi."), clip, 16000)
            store.flush()
            (kept,) = store.turns(cid)
            if keep:
                np.testing.assert_array_equal(kept.clip, clip)
                assert kept.rate == 16000
            else:
                assert kept.clip is None and kept.rate is None
        finally:
            store.close()


def test_reopened_it_has_everything_and_closing_leaves_no_thread(tmp_path):
    path = tmp_path / "history.sqlite3"
    store = HistoryStore(path)
    cid = store.new_conversation()
    store.add_turn(cid, turn("Remember me", "I will."))
    store.close()  # writes what was queued first
    assert "ptt-history" not in thread_names()
    again = HistoryStore(path)
    try:
        assert [t.record.heard for t in again.turns(cid)] == ["Remember me"]
    finally:
        again.close()


def test_a_damaged_file_is_a_message_and_stays_as_it_was(tmp_path):
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(HistoryUnavailable, match="damaged") as raised:
        HistoryStore(path)
    assert "keeps no history" in str(raised.value) and str(path) in str(raised.value)
    assert path.read_bytes() == b"this is not a database" * 100


def test_a_file_another_program_holds_locked_is_a_message(tmp_path):
    path = tmp_path / "history.sqlite3"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(HistoryUnavailable, match="holds it locked"):
            HistoryStore(path)
    finally:
        other.close()


def test_a_newer_versions_file_is_left_alone(tmp_path):
    path = tmp_path / "history.sqlite3"
    with sqlite3.connect(path) as newer:
        newer.execute("PRAGMA user_version = 99")
    with pytest.raises(HistoryUnavailable, match="newer version"):
        HistoryStore(path)


def test_a_write_that_fails_is_said_once_and_writing_stops(tmp_path):
    errors = []
    path = tmp_path / "history.sqlite3"
    store = HistoryStore(path, on_error=errors.append)
    try:
        with sqlite3.connect(path) as other:  # the file changed under the app
            other.execute("DROP TABLE turns")
        cid = store.new_conversation()
        store.add_turn(cid, turn("One", "1"))
        store.add_turn(cid, turn("Two", "2"))
        store.flush()
        assert len(errors) == 1 and "could not be written" in errors[0]
        assert not store.writable
    finally:
        store.close()
