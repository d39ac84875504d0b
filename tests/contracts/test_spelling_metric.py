"""The one scorer of spelled text: Levenshtein alignment and letter accuracy (Google 2023 competition metric)."""

from __future__ import annotations

import pytest

from asl_edge.metrics import EditOp, align, letter_accuracy, levenshtein


@pytest.mark.parametrize(("truth", "spelled", "distance"), [
    ("HELLO", "HELLO", 0), ("HE", "E", 1), ("BUT", "BUL", 1), ("TEST", "TET", 1), ("AT", "ALL", 2),
    ("ABC", "", 3), ("", "XY", 2), ("KITTEN", "SITTING", 3),
])
def test_levenshtein_counts_insertions_deletions_substitutions(truth: str, spelled: str, distance: int) -> None:
    assert levenshtein(truth, spelled) == distance


def test_align_names_each_edit_with_its_positions() -> None:
    assert align("AT", "ALL") == [EditOp("match", 0, 0), EditOp("sub", 1, 1), EditOp("ins", None, 2)]
    assert align("HE", "E") == [EditOp("del", 0, None), EditOp("match", 1, 0)]
    # Every character of both strings appears exactly once, in order.
    ops = align("GIRL", "GRIL")
    assert [op.truth for op in ops if op.truth is not None] == [0, 1, 2, 3]
    assert [op.spelled for op in ops if op.spelled is not None] == [0, 1, 2, 3]


def test_letter_accuracy_is_one_minus_total_distance_over_total_letters() -> None:
    # Not the mean of per-word accuracies: a long word weighs more.
    assert letter_accuracy(["HE", "HELLO"], ["E", "HELLO"]) == pytest.approx(1 - 1 / 7)
    assert letter_accuracy(["A"], ["XYZ"]) == pytest.approx(-2.0)  # invented letters can take it below 0
    assert letter_accuracy([], []) == 0.0
