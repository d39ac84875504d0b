"""One-line descriptions of the 26 ASL fingerspelling handshapes, shown by `asl-edge collect` as the prompt.

Written for the signer's dominant hand, palm facing the camera unless said otherwise, after the standard
ASL manual alphabet charts (e.g. Lifeprint's "ASL Fingerspelling" lesson, lifeprint.com).

J and Z are motions (STROKE_LETTERS of runtime/hand/strokes.py): collect records their samples as strokes, the
hand's trajectory while the letter is drawn, and their prompt says what to draw.
"""

from __future__ import annotations

HANDSHAPES: dict[str, str] = {
    "A": "fist, thumb straight up against the side of the index finger",
    "B": "four fingers straight up and together, thumb folded across the palm",
    "C": "fingers and thumb curved into the shape of a C, seen from the side",
    "D": "index finger up, the other fingertips touch the thumb tip in a circle",
    "E": "fingertips bent down onto the thumb, which lies across the palm",
    "F": "index fingertip touches the thumb tip in a circle, other three fingers up and spread",
    "G": "index finger and thumb point sideways, parallel, the other fingers closed",
    "H": "index and middle fingers together pointing sideways, thumb tucked",
    "I": "fist with only the little finger straight up",
    "J": "draw J: the I handshape, little finger hooks down and up",
    "K": "index up, middle finger angled forward, thumb tip between them",
    "L": "index finger up and thumb out sideways: an L",
    "M": "thumb tucked under the first three fingers, which fold over it",
    "N": "thumb tucked under the index and middle fingers, which fold over it",
    "O": "all fingertips touch the thumb tip in a round O",
    "P": "K handshape turned to point down: index forward, middle finger down",
    "Q": "G handshape turned to point down: index finger and thumb towards the floor",
    "R": "index and middle fingers crossed and up",
    "S": "fist with the thumb across the front of the fingers",
    "T": "fist with the thumb tucked between the index and middle fingers",
    "U": "index and middle fingers up and together",
    "V": "index and middle fingers up and spread: a V",
    "W": "index, middle and ring fingers up and spread, thumb holds the little finger",
    "X": "fist with the index finger raised and hooked",
    "Y": "thumb and little finger out, the other fingers closed",
    "Z": "draw Z: index finger out, draws a Z in the air (across, diagonally down and back, across)",
}
