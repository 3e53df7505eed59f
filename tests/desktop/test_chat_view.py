"""The chat column in a long conversation: each label's remembered height is always the
height its text needs now (text, font and style changes included), a bubble added after
many turns lays out only itself (the column asks the others, which answer from memory), and
a bubble's new height reaches the column before it is laid out and painted."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QLabel, QWidget

from desktop_app.widgets.chat_view import ChatView

LONG = "The capital of France is Paris, known for the Eiffel Tower. " * 6


def fresh_height(label: QLabel, width: int) -> int:
    """What a new QLabel with the same text, font and format needs at ``width``."""
    other = QLabel(label.text())
    other.setTextFormat(label.textFormat())
    other.setWordWrap(True)
    other.setFont(label.font())
    other.setMargin(label.margin())
    return other.heightForWidth(width)


def shown_view(qtbot) -> ChatView:
    view = ChatView()
    qtbot.addWidget(view)
    view.resize(600, 500)
    view.show()
    return view


def add_turns(view: ChatView, turns: int) -> None:
    """A conversation so far: each turn's question heard and a several-line answer."""
    for _ in range(turns):
        view.add_user(3.0).set_heard("What is the capital of France?")
        view.add_answer().append(LONG)


def test_a_label_height_follows_its_text_font_and_style(qtbot):
    view = shown_view(qtbot)
    answer = view.add_answer()
    label = answer.text_label
    short = label.heightForWidth(300)
    answer.append(LONG)
    assert label.heightForWidth(300) == fresh_height(label, 300) > short
    font = label.font()
    font.setPointSize(font.pointSize() * 2)
    label.setFont(font)
    assert label.heightForWidth(300) == fresh_height(label, 300)
    label.setMargin(label.margin() + 8)
    assert label.heightForWidth(300) == fresh_height(label, 300)
    answer.show_note("no speech was heard " * 10)  # restyled (italic, inset), new text
    qtbot.wait(10)
    assert label.heightForWidth(300) == fresh_height(label, 300)


def test_a_bubble_added_late_asks_no_other_label_to_lay_out_again(qtbot, monkeypatch):
    laid_out: list[QLabel] = []
    plain = QLabel.heightForWidth

    def counting(self, width):  # QLabel's own text layout, for any label made from now
        laid_out.append(self)
        return plain(self, width)

    monkeypatch.setattr(QLabel, "heightForWidth", counting)
    view = shown_view(qtbot)
    add_turns(view, 30)
    qtbot.wait(20)
    assert laid_out  # the check sees the labels' layouts
    laid_out.clear()
    newest = view.add_answer()
    newest.append(LONG)
    qtbot.wait(20)
    assert any(label is newest.text_label for label in laid_out)
    others = {id(label) for label in laid_out} - {id(newest.text_label)}
    assert not others  # the 60 earlier labels answered from memory


class Resizes(QObject):
    """Counts the resize events of the widgets it watches."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[QWidget] = []

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.seen.append(watched)
        return False


def test_a_bubble_growing_at_the_bottom_leaves_the_others_untouched(qtbot):
    view = shown_view(qtbot)
    add_turns(view, 20)
    user = view.add_user(3.0)
    answer = view.add_answer()
    qtbot.wait(20)
    earlier = view.items()[:-2]
    watcher = Resizes()
    for bubble in earlier:
        bubble.installEventFilter(watcher)
    top = earlier[0].geometry()
    user.set_heard("What is the capital of France?")  # the user's bubble grows
    answer.append(LONG)  # and the answer's, by several lines
    qtbot.waitUntil(lambda: view.verticalScrollBar().value() > 0, timeout=2000)
    qtbot.wait(20)
    assert user.heard_label.isVisible() and answer.text_label.height() > 40
    assert view.verticalScrollBar().value() == view.verticalScrollBar().maximum()
    # Each earlier bubble kept its size (none squeezed, laid out and repainted, and grown
    # back): only the two that grew were touched.
    assert watcher.seen == []
    assert earlier[0].geometry() == top


class Paints(QObject):
    """For each paint of the label it watches: its height, and the height its text needs."""

    def __init__(self, label: QLabel) -> None:
        super().__init__()
        self.label = label
        self.seen: list[tuple[int, int]] = []
        label.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            label = self.label
            self.seen.append((label.height(), label.heightForWidth(label.width())))
        return False


def test_text_that_grows_a_bubble_is_never_painted_squeezed(qtbot):
    """A row shown and its text set at once, as a turn's start does: the column was laid out
    before the bubble had taken its new text's height, so the first frame painted several
    lines squeezed into one, and the column was laid out and repainted again."""
    view = shown_view(qtbot)
    add_turns(view, 10)
    qtbot.wait(20)
    view.prepare_turn()
    qtbot.wait(20)
    view.add_user(3.0).set_heard("What is the capital of France?")
    answer = view.add_answer()
    paints = Paints(answer.text_label)
    answer.append(LONG)
    qtbot.waitUntil(lambda: len(paints.seen) > 0, timeout=2000)
    qtbot.wait(50)
    assert paints.seen[0][1] > 40  # several lines
    assert all(height == needed for height, needed in paints.seen), paints.seen


def test_a_turn_prepared_while_the_key_is_held_is_the_one_shown(qtbot):
    """Built hidden ahead (while the key is held), shown in place when the turn starts;
    what is said meanwhile comes before it, and nothing prepared counts as shown."""
    view = shown_view(qtbot)
    view.add_note("first")
    view.prepare_turn()
    view.prepare_turn()  # once is enough
    assert [type(w).__name__ for w in view.items()] == ["NoteLabel"]
    view.add_note("said while the key was held")
    user = view.add_user(2.5)
    answer = view.add_answer()
    assert [type(w).__name__ for w in view.items()] == [
        "NoteLabel",
        "NoteLabel",
        "UserBubble",
        "AnswerBubble",
    ]
    assert user.isVisibleTo(view) and answer.isVisibleTo(view)
    assert user.clip_label.text() == "Your clip · 2.5 s"
    assert len(view._rows()) == 4  # the prepared bubbles themselves, no others
    # the next turn, unprepared, is built then and goes last
    again = view.add_user(1.0)
    assert view.items()[-1] is again
    view.prepare_turn()
    view.clear()
    assert view.items() == [] and view._rows() == []
    view.add_note("after a clear")
    assert [type(w).__name__ for w in view.items()] == ["NoteLabel"]


def test_an_answer_stopped_before_its_first_word_is_a_note(qtbot):
    view = shown_view(qtbot)
    empty = view.add_answer()
    empty.mark_interrupted()
    assert empty.text_label.text() == "Stopped before the answer began."
    assert empty.copy_button.isHidden()  # nothing to copy
    begun = view.add_answer()
    assert not begun.copy_button.isEnabled()  # nothing to copy yet
    begun.append("Paris is")
    assert begun.copy_button.isEnabled()
    begun.mark_interrupted()
    assert begun.text_label.text() == "Paris is …  [interrupted]"
    assert not begun.copy_button.isHidden()


def test_the_same_note_twice_in_a_row_is_shown_once(qtbot):
    view = shown_view(qtbot)
    said = "No microphone found: the sound system lists no input device."
    first = view.add_note(said)
    assert view.add_note(said) is first
    view.add_answer()
    view.add_note(said)  # after something else: said again
    assert [type(w).__name__ for w in view.items()] == [
        "NoteLabel",
        "AnswerBubble",
        "NoteLabel",
    ]
    view.prepare_turn()  # a prepared turn's hidden rows are not what was said last
    assert view.add_note(said) is view.items()[-1]
    assert len(view.items()) == 3
