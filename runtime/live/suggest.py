"""Word suggestions beside the raw letters: the likely word for the letters of one spelled word.

Fingerspelling is for names and new words, so a suggestion never replaces the raw letters: the view shows it
beside them, and `suggest` returns None unless one word explains the letters clearly better than the letters
themselves do (docs/suggestions.md has the measurements behind every default here).

How a word is chosen (a noisy channel with an "unknown word" way out):

1. Candidates: symspellpy (SymSpell 6.7, Damerau optimal string alignment) finds every word of the lists within
   1 edit of a raw word of up to 3 letters, within 2 edits of a longer one. The lists: symspellpy's own English
   frequency dictionary (82,765 words of SCOWL with their counts in Google Books n-grams, about 1.0e12 words; shipped
   inside its wheel: nothing is downloaded) and the user's own names and words (`--words FILE`).
2. Each candidate's cost is a weighted edit distance to the raw letters (`weighted_distance`): substituting
   letters the classifier confuses (`CONFUSED_LETTERS`) and adding or dropping a doubled letter (the decoder's
   known weak spot, issue 19 item 2) cost half an edit, anything else one.
3. Each candidate weighs count × 10^(-cost_decades × cost); the raw letters themselves weigh their own count (when
   they are a word) plus unknown_word_count, the weight of "the signer meant exactly these letters, a word outside
   the lists" (SuggestConfig). A suggestion is offered when the heaviest is a word other than the raw letters, its
   cost is at most short_max_cost for a word of up to short_letters letters (MAX_COST longer), and its share of
   all the weight (`Suggestion.score`) is at least min_score.
4. The user's words come first: each weighs user_word_count (more than any English word) scaled by its own count
   among the user's words, so a listed name beats any English word of the same cost, even when the raw letters
   are an English word themselves.

Runtime module: no torch; symspellpy (pure Python) is imported only when a WordSuggester is built, and a missing
one is a one-line error naming the extra to install.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asl_edge.errors import DataError, require
from asl_edge.spec import ASL_LETTERS

# The English list inside symspellpy's wheel (word and count per line, MIT licence): per SymSpell's README, the words
# of SCOWL (Spell Checker Oriented Word Lists) with their counts in Google Books n-grams (symspellpy's N: 1.0e12 words).
ENGLISH_DICTIONARY = "frequency_dictionary_en_82_765.txt"
INSTALL_HINT = "pip install 'asl-edge[jetson]' (or pip install symspellpy)"

# Letter pairs the landmark classifier confuses, each costing half a substitution. Source: the bundled classifier
# (asl_landmarks.onnx) read per frame on fingerspelling-dev/letters/ (156 one-letter clips, 5 signers; frames with a
# hand and a top probability above 0.5, each clip weighted once): every pair read instead of the true letter in at
# least 8 % of a letter's frames: K→P 50 %, M→E 34 %, U→R 28 %, N→S 25 %, T→L 20 %, P↔Q 20 %, E→S 20 %, E→D 20 %,
# N→M 18 %, U→Q 17 %, S→E 17 %, I→Y 17 %, D→S 17 %, V→K 15 %, M→N 10 %; and the model card's confusions on massey-dev's
# unseen signers (asl_edge/assets/MODEL_CARD_LANDMARKS.md): I→Y, V→U, U→R, N→S, T→S. The motion letters J (read as I
# or Y) and Z (read as G, D or P) are left to the decoder's motion check. Pairs are unordered: either letter of a pair
# may be read as the other (the clips show both ways for P/Q, M/N and E/S).
CONFUSED_LETTERS: frozenset[frozenset[str]] = frozenset(
    frozenset(pair) for pair in (
        "KP", "ME", "MN", "NS", "ES", "ED", "DS", "TL", "TS", "PQ", "UR", "UQ", "UV", "VK", "IY",
    )
)
CONFUSED_COST = 0.5  # a substitution of a confused pair: half an edit
DOUBLE_COST = 0.5  # adding or dropping a repeat of the letter before it (ALL read as AL, or HALO as HALLO)
EDIT_COST = 1.0  # any other insertion, deletion, substitution or adjacent transposition

MIN_LETTERS = 2  # a single letter is an initial or a letter being taught: never suggested over
MAX_COST = 2.0  # the most a candidate may cost (symspellpy looks at most 2 edits away)
LOOKUP_SHORT = 3  # up to this many letters symspellpy looks 1 edit away, longer ones 2
MAX_ALTERNATIVES = 3
CACHE_SIZE = 512  # answers remembered: the live view asks again about the same letters every frame

LETTERS = frozenset(ASL_LETTERS)


@dataclass(frozen=True)
class SuggestConfig:
    """The noisy channel's knobs. The defaults are the sweep's choice in tools/measure_suggestions.py (numbers in
    docs/suggestions.md): over cost_decades 2/2.5/3, unknown_word_count 1e2/1e3/1e4, min_score 0.9/0.95/0.98 and five
    short-word limits, the most English words recovered from one realistic error among the settings that never
    suggest over a name or an English word spelled right and suggest over at most 1 % of misspelled names outside
    the lists. Synthetic words only, never the fingerspelling-dev words that measure the result.

    cost_decades: powers of ten of word frequency one edit costs (2.5: a word must be 316 times commoner to beat
    one with an edit less); unknown_word_count: the weight of "these exact letters, a word outside the lists", as
    an English count (1e3; symspellpy's rarest words have about 3e4 in its corpus of about 1e12 words);
    user_word_count: the weight of the user's top word (1e11: above every English word, 'the' is 2.3e10, so a listed
    name beats every English word of the same cost); min_score: the best word's share of all the weight needed to
    offer it; short_letters, short_max_cost: a raw word of up to short_letters letters is offered a word costing at
    most short_max_cost (a short word has many neighbours, so one unexplained edit says little), longer ones up to
    MAX_COST. Words over the limit still count as what else the letters could be.
    """

    cost_decades: float = 2.5
    unknown_word_count: float = 1.0e3
    user_word_count: float = 1.0e11
    min_score: float = 0.9
    short_letters: int = 5
    short_max_cost: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.min_score <= 1.0:
            raise ValueError(f"min_score {self.min_score} must be in (0, 1]")
        if self.cost_decades < 0 or self.unknown_word_count < 0 or self.user_word_count <= 0:
            raise ValueError("cost_decades and unknown_word_count must be >= 0, user_word_count > 0")


@dataclass(frozen=True)
class Suggestion:
    """The likely word for the raw letters of one word.

    raw: the letters as spelled (upper case); word: the suggested word (upper case, never equal to raw);
    distance: edits between them (Damerau optimal string alignment); cost: the confusion-weighted edits
    (`weighted_distance`); score: 0..1, the word's share of the weight of every candidate and of the raw letters
    themselves; source: "user" (the --words file) or "english"; alternatives: the next candidates, best first.
    """

    raw: str
    word: str
    distance: int
    cost: float
    score: float
    source: str
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """One word considered for the raw letters (upper case), with its cost, list count and weight."""

    word: str
    distance: int
    cost: float
    count: float
    source: str
    weight: float


def _substitution_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return CONFUSED_COST if frozenset((a, b)) in CONFUSED_LETTERS else EDIT_COST


def _indel_cost(word: str, i: int) -> float:
    """Cost of inserting or deleting word[i]: cheap when it repeats the letter before it (the second letter of a
    double: ALL read as AL, HALO read as HALLO). Only the repeat is cheap, so dropping both letters of a pair costs
    a full edit more."""
    return DOUBLE_COST if i > 0 and word[i - 1] == word[i] else EDIT_COST


def weighted_distance(raw: str, word: str) -> float:
    """Confusion-weighted Damerau optimal-string-alignment distance (edits, float) from `raw` to `word`.

    Both upper case. Substituting a CONFUSED_LETTERS pair costs CONFUSED_COST; inserting or deleting a letter next
    to the same letter costs DOUBLE_COST; every other insertion, deletion, substitution or adjacent transposition
    costs EDIT_COST. O(len(raw) × len(word)); words are short.
    """
    n, m = len(raw), len(word)
    previous2: list[float] = []
    previous = [0.0] * (m + 1)
    for j in range(1, m + 1):
        previous[j] = previous[j - 1] + _indel_cost(word, j - 1)
    for i in range(1, n + 1):
        current = [previous[0] + _indel_cost(raw, i - 1)] + [0.0] * m
        for j in range(1, m + 1):
            best = min(previous[j] + _indel_cost(raw, i - 1),  # raw has a letter too many
                       current[j - 1] + _indel_cost(word, j - 1),  # raw misses a letter
                       previous[j - 1] + _substitution_cost(raw[i - 1], word[j - 1]))
            if i > 1 and j > 1 and raw[i - 1] == word[j - 2] and raw[i - 2] == word[j - 1]:
                best = min(best, previous2[j - 2] + EDIT_COST)
            current[j] = best
        previous2, previous = previous, current
    return previous[m]


def read_user_words(path: str | os.PathLike[str]) -> dict[str, int]:
    """A user's names and words (upper case) with their counts, from a text file.

    One word per line, optionally followed by a positive whole count (whitespace or a comma between), which ranks
    the user's words among themselves (default 1). Blank lines and lines starting with '#' are skipped; letters
    A–Z only, any case (what can be fingerspelled). A word listed twice keeps its larger count. Raises DataError
    naming the file (and the line) for a missing, unreadable or empty file or a malformed line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows Notepad) is no letter
    except FileNotFoundError:
        raise DataError(f"word list {path} does not exist; pass a text file with one word per line") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"word list {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except IsADirectoryError:
        raise DataError(f"word list {path} is a folder; pass a text file with one word per line") from None
    except OSError as exc:
        raise DataError(f"word list {path} cannot be read: {exc.strerror or exc}; pass a readable text file "
                        "with one word per line") from None
    words: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.replace(",", " ").split()
        if not fields or fields[0].startswith("#"):
            continue
        where = f"word list {path} line {number}"
        if len(fields) > 2:
            raise DataError(f"{where}: '{line.strip()}' has {len(fields)} fields; write one word and an optional count "
                            f"(a name of two words as one word: {''.join(fields).upper()})")
        word = fields[0].upper()
        if not set(word) <= LETTERS:
            raise DataError(f"{where}: '{fields[0]}' has characters other than the letters A-Z; "
                            "write it as it is fingerspelled (e.g. OBRIEN for O'Brien)")
        count = 1
        if len(fields) == 2:
            try:
                count = int(fields[1])
            except ValueError:
                count = 0
            if count < 1:
                raise DataError(f"{where}: count '{fields[1]}' is not a whole number of at least 1 (a name of two "
                                f"words is written as one word: {''.join(fields).upper()})")
        words[word] = max(count, words.get(word, 0))
    if not words:
        raise DataError(f"word list {path} has no words; write one word per line")
    return words


def _english_counts(symspell: Any) -> None:
    """Load symspellpy's English frequency dictionary into `symspell` from the installed wheel."""
    import importlib.resources

    resource = importlib.resources.files("symspellpy") / ENGLISH_DICTIONARY
    if not resource.is_file():
        raise DataError(f"symspellpy's English dictionary {ENGLISH_DICTIONARY} is missing from its installation; "
                        f"reinstall it: {INSTALL_HINT}")
    with importlib.resources.as_file(resource) as path:
        symspell.load_dictionary(str(path), term_index=0, count_index=1, encoding="utf-8")


class WordSuggester:
    """Suggests the likely word for the raw letters of one spelled word (see the module docstring).

    user_words: the user's names and words (any case) with counts (`read_user_words`); english: also use
    symspellpy's English frequency dictionary (False: the user's words only, which loads at once). Building the
    English index takes about 2.5 s of CPU on a workstation core, more on a Jetson's, and about 140 MB (symspellpy
    keeps every word's deletes), so a live view builds it off its frame loop (`load_in_background`). `suggest`
    then takes about 1-5 ms on a workstation core, and up to `cache_size` answers are remembered.
    """

    def __init__(self, user_words: Mapping[str, int] | None = None, *, english: bool = True,
                 config: SuggestConfig | None = None, cache_size: int = CACHE_SIZE) -> None:
        symspellpy = require("symspellpy", "word suggestions", INSTALL_HINT)
        self.config = config or SuggestConfig()
        self.cache_size = cache_size
        self._symspell = symspellpy.SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        self._verbosity = symspellpy.Verbosity.ALL
        if english:
            _english_counts(self._symspell)
        self._english: dict[str, int] = dict(self._symspell.words)
        self._user: dict[str, float] = {}
        if user_words:
            if min(user_words.values()) < 1:
                raise ValueError("user word counts must be at least 1")
            top = max(user_words.values())
            for word, count in user_words.items():
                key = word.lower()
                self._user[key] = count / top
                self._symspell.create_dictionary_entry(key, count)
        self._cache: dict[str, Suggestion | None] = {}
        self._near_cache: dict[str, list[tuple[str, int, float]]] = {}

    @classmethod
    def from_file(cls, words: str | os.PathLike[str] | None = None, **kwargs: Any) -> WordSuggester:
        """A suggester over the English list plus the user's `--words FILE` (None: English only)."""
        return cls(read_user_words(words) if words is not None else None, **kwargs)

    @property
    def word_count(self) -> int:
        """Distinct words in the lists (English and the user's)."""
        return int(self._symspell.word_count)

    def reconfigure(self, config: SuggestConfig) -> None:
        """Use other knobs from now on (the index stays; remembered answers are dropped)."""
        self.config = config
        self._cache.clear()

    def _count(self, key: str) -> tuple[float, str]:
        """A word's weight before its cost, and which list it came from (the user's words come first)."""
        if key in self._user:
            return self.config.user_word_count * self._user[key], "user"
        return float(self._english.get(key, 0)), "english"

    def candidates(self, raw: str) -> list[Candidate]:
        """Every word of the lists within MAX_COST of `raw` (one word's letters, any case), heaviest first; [] for
        anything but letters A-Z."""
        raw = raw.upper()
        if not raw or not set(raw) <= LETTERS:
            return []
        found: list[Candidate] = []
        for key, distance, cost in self._near(raw):
            count, source = self._count(key)
            weight = count * 10.0 ** (-self.config.cost_decades * cost)
            found.append(Candidate(key.upper(), distance, cost, count, source, weight))
        found.sort(key=lambda c: (-c.weight, c.cost, c.word))
        return found

    def _near(self, raw: str) -> list[tuple[str, int, float]]:
        """(list key, edits, weighted cost) of the words near `raw` within MAX_COST (remembered:
        symspellpy's lookup is most of a suggestion's time, and does not depend on the knobs)."""
        if raw in self._near_cache:
            return self._near_cache[raw]
        lookup = 1 if len(raw) <= LOOKUP_SHORT else 2
        limit = MAX_COST
        near = []
        for item in self._symspell.lookup(raw.lower(), self._verbosity, max_edit_distance=lookup):
            cost = weighted_distance(raw, item.term.upper())
            if cost <= limit:
                near.append((item.term, item.distance, cost))
        if len(self._near_cache) >= self.cache_size:
            self._near_cache.clear()
        self._near_cache[raw] = near
        return near

    def suggest(self, raw: str) -> Suggestion | None:
        """The likely word for `raw`, the letters of one spelled word (any case), or None: fewer than MIN_LETTERS
        letters, anything but letters A-Z, a word the user listed, no word near enough, or no word clearly likelier
        than the letters themselves (so a name outside the lists stays as spelled)."""
        raw = raw.upper()
        if raw in self._cache:
            return self._cache[raw]
        if len(self._cache) >= self.cache_size:
            self._cache.clear()  # the live view asks about the word being spelled; old words are not asked again
        self._cache[raw] = answer = self._suggest(raw)
        return answer

    def _suggest(self, raw: str) -> Suggestion | None:
        if len(raw) < MIN_LETTERS or raw.lower() in self._user:
            return None
        found = self.candidates(raw)
        others = [c for c in found if c.word != raw]
        if not others:
            return None
        own = next((c.weight for c in found if c.word == raw), 0.0)
        total = own + self.config.unknown_word_count + sum(c.weight for c in others)
        best = others[0]
        score = best.weight / total if total > 0 else 0.0
        # Words over the length's cost limit still share the weight (they are what else the letters could be), but
        # are never offered.
        limit = self.config.short_max_cost if len(raw) <= self.config.short_letters else MAX_COST
        if score < self.config.min_score or best.cost > limit:
            return None
        return Suggestion(raw=raw, word=best.word, distance=best.distance, cost=best.cost, score=score,
                          source=best.source, alternatives=tuple(c.word for c in others[1:1 + MAX_ALTERNATIVES]))

    def suggest_words(self, text: str) -> list[tuple[str, Suggestion | None]]:
        """Each space-separated word of spelled `text` with its suggestion (None where there is none)."""
        return [(word, self.suggest(word)) for word in text.split()]


def load_in_background(words: str | os.PathLike[str] | None = None, **kwargs: Any) -> Future[WordSuggester]:
    """Build a WordSuggester (English list plus `words`, see from_file) in a daemon thread.

    The user's file is read and checked at once, so a bad --words fails before the camera opens; the English index
    (seconds) is built in the thread, which does not hold up the program's exit. Poll `future.done()` from the frame
    loop and take `future.result()` once (it re-raises what building raised).
    """
    user = read_user_words(words) if words is not None else None
    future: Future[WordSuggester] = Future()

    def build() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(WordSuggester(user, **kwargs))
        except BaseException as exc:  # handed to whoever takes the result, re-raised there
            future.set_exception(exc)

    threading.Thread(target=build, name="word-suggester", daemon=True).start()
    return future
