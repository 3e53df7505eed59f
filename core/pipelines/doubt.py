"""When to doubt a transcript: Whisper's own evidence says a word was likely misheard, and
the reply then says what was heard and asks, instead of answering what was not asked.

The thresholds were chosen on the recogniser's evidence for the tuning half of the conditions
set (``benchmarks/evaluate_conditions.py --tuning``: its odd-numbered questions); the report,
on the other half, gives the share of misheard-caused wrong answers they flag and the false
flags on clean speech. The least likely word carries most of it: a misheard word is one
Whisper guessed, while the whole transcript's average stays high."""

from __future__ import annotations

from core.pipelines.recognizer import Evidence

#: a text token less likely than this is a word Whisper guessed
MIN_TOKEN_LOGPROB = -1.4
#: the transcript's tokens on average less likely than this: most of it is a guess
MIN_AVERAGE_LOGPROB = -0.8
#: Whisper thought the clip was more likely silence than speech
MAX_NO_SPEECH_PROB = 0.5
#: text this repetitive is Whisper looping, not a question (faster-whisper's own bound)
MAX_COMPRESSION_RATIO = 2.4


def doubt(evidence: Evidence) -> str | None:
    """Why the transcript is doubtful, or None when Whisper was sure enough."""
    if evidence.compression_ratio > MAX_COMPRESSION_RATIO:
        return f"it repeats itself (compression ratio {evidence.compression_ratio:.1f})"
    if evidence.no_speech_prob > MAX_NO_SPEECH_PROB:
        return f"Whisper thought it was not speech (p={evidence.no_speech_prob:.2f})"
    if evidence.avg_logprob < MIN_AVERAGE_LOGPROB:
        return (
            f"its words are uncertain (mean log-probability {evidence.avg_logprob:.2f})"
        )
    if evidence.min_logprob < MIN_TOKEN_LOGPROB:
        return f"a word in it is a guess (log-probability {evidence.min_logprob:.2f})"
    return None


#: the reply in the languages the window offers most; others get English
ASKING = {
    "en": "I'm not sure I heard that right. I heard: “{}” Could you say it again?",
    "de": "Ich bin nicht sicher, ob ich das richtig verstanden habe. Ich habe gehört: „{}“ "
    "Kannst du es noch einmal sagen?",
    "fr": "Je ne suis pas sûr d'avoir bien compris. J'ai entendu : « {} » "
    "Pouvez-vous répéter ?",
    "es": "No estoy seguro de haberlo entendido bien. He oído: «{}» ¿Puedes repetirlo?",
    "it": "Non sono sicuro di aver capito bene. Ho sentito: «{}» Puoi ripetere?",
    "pt": "Não tenho certeza se entendi bem. Ouvi: “{}” Pode repetir?",
    "nl": "Ik weet niet zeker of ik dat goed heb verstaan. Ik hoorde: „{}” "
    "Kun je het herhalen?",
}


def asking_reply(heard: str, language: str | None = None) -> str:
    """What the assistant says instead of an answer to a doubtful transcript, in the
    language it was heard in."""
    return ASKING.get(language or "en", ASKING["en"]).format(heard)
