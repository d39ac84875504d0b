"""Latency and accuracy across backends and precisions: timing statistics, per-model and whole-pipeline rows, the
hand chain, environment capture, and the JSON/Markdown/PNG reports."""
