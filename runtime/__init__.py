"""The runtime: frame sources, inference backends, smoothing and spelling, overlay, web view, pipeline.

Never imports torch at import time: a Jetson runtime image has no PyTorch.
"""
