"""Fixtures of the hand tests: the runtime tests' clip builder of held-out photos."""

from tests.live.conftest import make_clip, val_photos

__all__ = ["make_clip", "val_photos"]
