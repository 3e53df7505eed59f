"""Answering through an OpenAI-compatible chat server."""
