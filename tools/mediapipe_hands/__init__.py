"""The steps of tools/convert_mediapipe_hands.py (see its docstring), one module each."""
