"""The live app: frame sources and capture, the per-frame pipeline, letter smoothing and spelling, the overlay, and
the sinks (OpenCV window, saved video, ``web`` view)."""
