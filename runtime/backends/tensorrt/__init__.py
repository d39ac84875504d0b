"""The TensorRT backend and what it needs: the engine runner, the CUDA device (pycuda), the engine manifest and the
TensorRT version gate. ``tensorrt`` and ``pycuda`` are imported only when an engine is used."""
