"""Word suggestions (runtime/live/suggest.py) with the real symspellpy and its real English frequency dictionary."""

from __future__ import annotations

import importlib.resources
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asl_edge.errors import DataError, MissingDependencyError
from asl_edge.runtime.live.suggest import (
    CONFUSED_LETTERS,
    ENGLISH_DICTIONARY,
    SuggestConfig,
    Suggestion,
    WordSuggester,
    load_in_background,
    read_user_words,
    weighted_distance,
)

# Given names and new words outside symspellpy's English list (tools/measure_suggestions.py checks its 98).
NAMES_OUTSIDE = ("SAOIRSE", "OLUWASEUN", "KENJI", "THANDIWE", "ZOOMCAST", "NKECHI", "TEVITA")


@pytest.fixture(scope="module")
def english() -> WordSuggester:
    """The English list alone (built once: its index takes seconds)."""
    return WordSuggester()


def test_the_english_dictionary_ships_inside_the_symspellpy_wheel() -> None:
    resource = importlib.resources.files("symspellpy") / ENGLISH_DICTIONARY
    lines = resource.read_text(encoding="utf-8").splitlines()
    assert len(lines) > 82_000
    word, count = lines[0].split()
    assert word == "the" and int(count) > 10**10


def test_importing_the_module_does_not_import_symspellpy() -> None:
    code = "import sys, asl_edge.runtime.live.suggest; sys.exit('symspellpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_missing_symspellpy_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "symspellpy", None)  # import symspellpy now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"word suggestions needs symspellpy.*asl-edge\[jetson\]"):
        WordSuggester(english=False)


@pytest.mark.parametrize(("raw", "word", "cost"), [
    ("ABC", "ABC", 0.0),
    ("BUL", "BUT", 0.5),  # T and L are a confused pair
    ("MUN", "MUM", 0.5),  # so are M and N
    ("BUX", "BUT", 1.0),  # X and T are not
    ("AL", "ALL", 0.5),  # a doubled letter missed
    ("HALLO", "HALO", 0.5),  # one doubled too many
    ("AMAA", "AM", 1.5),  # only the repeat is cheap: the first A of AA is a full edit
    ("TEH", "THE", 1.0),  # adjacent transposition
    ("", "AB", 2.0),  # neither letter repeats the one before it
    ("", "AAB", 2.5),  # the second A does
    ("XYZ", "", 3.0),
])
def test_weighted_distance(raw: str, word: str, cost: float) -> None:
    assert weighted_distance(raw, word) == pytest.approx(cost)


def test_confused_letters_are_pairs_of_distinct_letters() -> None:
    assert all(len(pair) == 2 and pair <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for pair in CONFUSED_LETTERS)
    assert frozenset("UR") in CONFUSED_LETTERS and frozenset("MN") in CONFUSED_LETTERS


@pytest.mark.parametrize(("raw", "word"), [
    ("PEOPTE", "PEOPLE"),  # L read as T
    ("FRIEMD", "FRIEND"),  # N read as M
    ("QUESTIOM", "QUESTION"),
    ("HELLLO", "HELLO"),  # a letter doubled once too often
    ("COFFE", "COFFEE"),  # a double letter missed
    ("LANGUAGR", "LANGUAGE"),  # an unconfused substitution in a long word
])
def test_a_misspelled_english_word_gets_its_word_beside_the_raw_letters(
        english: WordSuggester, raw: str, word: str) -> None:
    found = english.suggest(raw)
    assert found is not None
    assert (found.raw, found.word, found.source) == (raw, word, "english")
    assert found.distance == 1 and 0.0 < found.cost <= 1.0
    assert english.config.min_score <= found.score <= 1.0
    assert word not in found.alternatives and len(found.alternatives) <= 3


def test_lower_case_letters_are_read_as_upper_case(english: WordSuggester) -> None:
    found = english.suggest("peopte")
    assert found is not None and (found.raw, found.word) == ("PEOPTE", "PEOPLE")


@pytest.mark.parametrize("raw", ["HELLO", "ARE", "THE", "QUESTION"])
def test_a_word_spelled_right_gets_no_suggestion(english: WordSuggester, raw: str) -> None:
    assert english.suggest(raw) is None


@pytest.mark.parametrize("raw", NAMES_OUTSIDE)
def test_a_name_outside_the_lists_stays_as_spelled(english: WordSuggester, raw: str) -> None:
    assert raw.lower() not in english._english
    assert english.suggest(raw) is None


def test_a_name_near_english_words_stays_as_spelled(english: WordSuggester) -> None:
    """BJORN is one letter from the common BORN, which is still not clearly likelier than the letters themselves."""
    assert english.suggest("BJORN") is None  # BORN is one letter away and common
    assert any(c.word == "BORN" for c in english.candidates("BJORN"))


@pytest.mark.parametrize("raw", ["", "E", "Q", "A", "HE LLO", "NAÏVE", "R2D2", "O'BRIEN"])
def test_single_letters_and_anything_but_letters_get_nothing(english: WordSuggester, raw: str) -> None:
    assert english.suggest(raw) is None


def test_candidates_are_heaviest_first_within_the_length_limit(english: WordSuggester) -> None:
    found = english.candidates("PEOPTE")
    assert found[0].word == "PEOPLE"
    assert [c.weight for c in found] == sorted((c.weight for c in found), reverse=True)
    assert all(c.cost <= 2.0 for c in found)
    assert all(c.cost <= 1.0 for c in english.candidates("BUL"))  # up to 4 letters: one edit at most
    assert english.candidates("R2D2") == []


def test_suggest_words_answers_each_word_of_a_text(english: WordSuggester) -> None:
    answers = english.suggest_words("HELLO SAOIRSE PEOPTE")
    assert [word for word, _ in answers] == ["HELLO", "SAOIRSE", "PEOPTE"]
    assert answers[0][1] is None and answers[1][1] is None
    found = answers[2][1]
    assert found is not None and found.word == "PEOPLE"


def test_a_stricter_config_offers_less(english: WordSuggester) -> None:
    with pytest.raises(ValueError, match="min_score"):
        SuggestConfig(min_score=0.0)
    english.reconfigure(SuggestConfig(unknown_word_count=1e12))  # an unknown word as likely as any English word
    try:
        assert english.suggest("PEOPTE") is None
    finally:
        english.reconfigure(SuggestConfig())
    assert english.suggest("PEOPTE") is not None


# --- the user's words --------------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str | bytes, name: str = "words.txt") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_read_user_words(tmp_path: Path) -> None:
    path = write(tmp_path, "# my people\nKenji\n\nsaoirse 5\n  Aarav,3\nkenji 2\n")
    assert read_user_words(path) == {"KENJI": 2, "SAOIRSE": 5, "AARAV": 3}


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("KENJI\nO'BRIEN\n", 2, "characters other than the letters A-Z"),
    ("KENJI 3 4\n", 1, "has 3 fields"),
    ("KENJI\n\nSAOIRSE many\n", 3, "count 'many' is not a whole number"),
    ("KENJI 0\n", 1, "count '0'"),
    ("KENJI -2\n", 1, "count '-2'"),
    ("ZOË\n", 1, "characters other than the letters A-Z"),
])
def test_a_bad_line_is_one_error_naming_the_file_and_line(tmp_path: Path, text: str, line: int,
                                                          problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataError) as caught:
        read_user_words(path)
    message = str(caught.value)
    assert "\n" not in message
    assert f"word list {path} line {line}: " in message and problem in message


@pytest.mark.parametrize(("content", "problem"), [
    (b"KENJI\n\xff\xfeSAOIRSE\n", "is not UTF-8 text"),
    (b"# only a comment\n\n", "has no words"),
    (b"", "has no words"),
])
def test_a_bad_file_is_one_error_naming_it(tmp_path: Path, content: bytes, problem: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(DataError, match=problem) as caught:
        WordSuggester.from_file(path, english=False)
    assert str(path) in str(caught.value)


def test_a_missing_file_or_a_folder_is_one_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist") as caught:
        read_user_words(tmp_path / "nowhere.txt")
    assert str(tmp_path / "nowhere.txt") in str(caught.value)
    with pytest.raises(DataError, match="is a folder; pass a text file") as caught:
        read_user_words(tmp_path)
    assert str(tmp_path) in str(caught.value)


def test_the_users_words_are_suggested(tmp_path: Path) -> None:
    suggester = WordSuggester.from_file(write(tmp_path, "KENJI\nSAOIRSE 4\n"), english=False)
    found = suggester.suggest("KEMJI")  # N read as M
    assert found is not None and (found.word, found.source, found.distance) == ("KENJI", "user", 1)
    found = suggester.suggest("SAOIRS")  # the last letter missed
    assert found is not None and found.word == "SAOIRSE"
    assert suggester.suggest("KENJI") is None  # spelled as listed
    assert suggester.suggest("ZOOMCAST") is None  # in no list


def test_the_users_words_come_before_english_words(tmp_path: Path, english: WordSuggester) -> None:
    assert english.suggest("KAY") is None  # an English word: the letters stand
    suggester = WordSuggester.from_file(write(tmp_path, "KAI\n"))
    found = suggester.suggest("KAY")  # I and Y are confused: the user's KAI beats the English KAY
    assert found is not None and (found.word, found.source) == ("KAI", "user")
    assert found.cost == pytest.approx(0.5)
    assert suggester.suggest("KAI") is None


def test_load_in_background_checks_the_file_at_once_and_builds_in_a_thread(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="line 1"):
        load_in_background(write(tmp_path, "KENJI 3 4\n", "bad.txt"), english=False)
    future = load_in_background(write(tmp_path, "KENJI\n"), english=False)
    suggester = future.result(timeout=60)
    found = suggester.suggest("KEMJI")
    assert found is not None and found.word == "KENJI"


def test_user_words_passed_in_code_need_counts_of_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        WordSuggester({"KENJI": 0}, english=False)


# --- cost ----------------------------------------------------------------------------------------------------------


def time_suggestions(suggester: WordSuggester, raws: list[str]) -> tuple[float, float, list[Suggestion | None]]:
    """(mean ms, max ms, answers) of one uncached suggest() per raw word."""
    suggester.reconfigure(suggester.config)  # forget remembered answers
    suggester._near_cache.clear()
    times, answers = [], []
    for raw in raws:
        start = time.perf_counter()
        answers.append(suggester.suggest(raw))
        times.append((time.perf_counter() - start) * 1e3)
    return sum(times) / len(times), max(times), answers


def test_suggest_cost(english: WordSuggester) -> None:
    """Prints what a suggestion costs on this machine (run with -s); the live view asks once per new letter."""
    raws = ["PEOPTE", "FRIEMD", "HELLLO", "SAOIRSE", "KENJI", "AL", "BUL", "QUESTIOM", "THANDIWE", "LANGUAGR"]
    mean_ms, max_ms, answers = time_suggestions(english, raws)
    print(f"\nsuggest(): {mean_ms:.2f} ms mean, {max_ms:.2f} ms max over {len(raws)} words ({english.word_count} "
          f"words in the lists); remembered answers: ", end="")
    start = time.perf_counter()
    again = [english.suggest(raw) for raw in raws]
    print(f"{(time.perf_counter() - start) * 1e3 / len(raws):.4f} ms")
    assert again == answers
    assert [a.word if a else None for a in answers[:5]] == ["PEOPLE", "FRIEND", "HELLO", None, None]


def test_a_word_list_saved_by_windows_notepad_reads(tmp_path: Path) -> None:
    notepad = tmp_path / "names.txt"
    notepad.write_bytes("\ufeffKENJI\r\nAMARA 5\r\n".encode())  # UTF-8 with a byte-order mark, CRLF line ends
    assert read_user_words(notepad) == {"KENJI": 1, "AMARA": 5}


def test_a_name_of_two_words_is_told_to_be_one(tmp_path: Path) -> None:
    two = tmp_path / "names.txt"
    two.write_text("MARY ANN\n")
    with pytest.raises(DataError, match=r"count 'ANN' is not a whole number .* written as one word: MARYANN\)"):
        read_user_words(two)
    with pytest.raises(DataError, match="is a folder; pass a text file"):
        read_user_words(tmp_path)
