"""One widget per module: plain values in, signals out; no audio or model code."""
