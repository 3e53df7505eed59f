"""Questions in other languages, and whether an answer is in the language asked: for the
language tests and the conditions evaluation."""

from __future__ import annotations

import re

# (espeak-ng voice, Whisper code, question, accepted words); answers scored by the fact
# and by being in the question's language (more of its common words than English's).
FOREIGN = [
    ("de", "de", "Was ist die Hauptstadt von Frankreich?", ("paris",)),
    ("de", "de", "Wie viele Tage hat eine Woche?", ("sieben", "7")),
    ("de", "de", "Welche Sprache spricht man in Brasilien?", ("portugiesisch",)),
    ("de", "de", "Was machen Bienen?", ("honig",)),
    ("fr", "fr", "Quelle est la capitale de l'Italie?", ("rome",)),
    ("fr", "fr", "Combien de jours y a-t-il dans une semaine?", ("sept", "7")),
    ("es", "es", "¿Cuál es la capital de Japón?", ("tokio", "tokyo")),
    ("es", "es", "¿Cuántos días tiene una semana?", ("siete", "7")),
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Each language's commonest short words; a word two languages share ("in", "a", "es")
# counts for neither.
COMMON_WORDS = {
    "en": _words(
        "the is of and a in are it to there what you that this was for on with as be has"
        " have not or by an at"
    ),
    "de": _words(
        "die der das ist und von ein eine einen hat sind es wird oder nicht mit auf für"
        " ich wir sie er uns im zu den dem des auch sich man"
    ),
    "fr": _words(
        "la le est de et les des il une un y a du en que qui pour dans pas sur au ce"
        " sont elle vous"
    ),
    "es": _words(
        "la el es de y los las un una tiene en que del por con para se su al lo no son"
        " como"
    ),
}


def in_language(answer: str, code: str) -> bool:
    """Whether ``answer`` has more of the language's common words than of English's."""
    words = re.findall(r"[^\W\d_]+", answer.lower())
    shared = COMMON_WORDS[code] & COMMON_WORDS["en"]
    mine = sum(w in COMMON_WORDS[code] and w not in shared for w in words)
    english = sum(w in COMMON_WORDS["en"] and w not in shared for w in words)
    return mine > english


def holds_fact(answer: str, accepted: tuple[str, ...]) -> bool:
    """Whether ``answer`` holds one of the ``accepted`` words, as a word."""
    text = answer.lower()
    return any(re.search(rf"\b{re.escape(word)}\b", text) for word in accepted)
