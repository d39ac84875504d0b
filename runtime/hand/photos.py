"""The one photo policy (issue 21 item 2): how the hand stage looks at a still photo, for every command.

A photo (a dataset's for `train` and `eval`, an image file or folder given to `run` or `collect` as --source)
is searched on its own (no tracking from the previous image, which shows another moment or another hand) and
padded by PHOTO_PAD on every side first: photos are often cropped tightly round the hand, and MediaPipe's palm
detector wants context around the palm. Video frames (files, cameras, streams) are tracked and not padded.

Before this was one rule, `eval` padded and `run` and `collect` did not: on 40 tightly framed massey-dev photos
the palm detector found a hand in 25 unpadded and in 40 padded, and `collect` told the signer to make the hand
bigger when it already filled the photo.
"""

from __future__ import annotations

from asl_edge.runtime.hand.tracker import TrackerConfig

# A 25 % border raised detection on tightly cropped photos from 57 % to 95 % while planning (issue 12).
PHOTO_PAD = 0.25


def tracker_config(photos: bool, variant: str = "full") -> TrackerConfig:
    """The hand stage's settings for photos (each detected on its own, padded) or for video frames (tracked)."""
    if photos:
        return TrackerConfig(track=False, pad=PHOTO_PAD, variant=variant)
    return TrackerConfig(variant=variant)


def no_hand_advice(config: TrackerConfig) -> str:
    """What to change when a hand stage with this config found no hand anywhere: padded photos and video frames
    fail for different reasons (a photo's framing is already taken care of; a camera's hand may be too close)."""
    if config.pad > 0:
        return (f"each photo was searched on its own with a {config.pad:.0%} border added, so a tightly framed hand "
                "is fine; the palm detector still needs one whole hand with its palm and wrist in view, in colour "
                "and lit well enough to see the fingers - check the images show that")
    return ("the palm detector needs one whole hand, palm and wrist in view, in colour, at least about a quarter of "
            "the frame high, with some room around it (a hand that fills the frame is missed: move back from the "
            "camera)")
