"""What runs on the device, in three sub-packages whose imports flow one way:

- ``backends``: one ``Backend`` interface over ONNX Runtime and TensorRT (``backends.tensorrt``: engine, CUDA device,
  manifest), plus accuracy of a backend over a dataset;
- ``hand``: palm detection, hand landmarks and the hand-tracking chain;
- ``live``: the live app (sources, capture, pipeline, spelling, overlay, display and the ``live.web`` view).

Never imports torch, TensorFlow or mediapipe (checked by import-linter's ``forbidden`` contract): a Jetson runtime
image has none of them.
"""
