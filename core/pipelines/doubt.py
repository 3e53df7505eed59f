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


def asking_reply(heard: str) -> str:
    """What the assistant says instead of an answer to a doubtful transcript."""
    return (
        f"I'm not sure I heard that right. I heard: “{heard}” Could you say it again?"
    )
