"""Measure word suggestions (runtime/live/suggest.py) on words with realistic letter errors; docs/suggestions.md.

    python tools/measure_suggestions.py            # the defaults' numbers (about a minute on one core)
    python tools/measure_suggestions.py --sweep    # the same for a grid of SuggestConfig knobs

Two sets, both made here from public knowledge, neither from the fingerspelling-dev recordings:
- NAMES: 89 given names from many languages and 9 new words, none of them in symspellpy's English list (the
  script checks): words outside the lists, where any suggestion is wrong and would mislead a reader who trusted it
  over the raw letters.
- English words: 400 words of 2-10 letters drawn (seed 0) from the 30,000 commonest of symspellpy's list.
Each word is measured as spelled and with every single error of each kind a fingerspelling chain makes: a letter
dropped, a letter doubled, a letter swapped for one the classifier confuses with it (CONFUSED_LETTERS: the same
table the suggester uses, so that row measures the table's use, not its truth), two neighbours transposed; and
three substitutions by a letter not confused with the one replaced.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable

from asl_edge.runtime.live.suggest import CONFUSED_LETTERS, SuggestConfig, WordSuggester

NAMES = [
    "AARAV", "ADITI", "AIKO", "AKIRA", "AMARA", "ANIKA", "ARJUN", "BAO", "BJORN", "CHIDI", "CHIAMAKA", "DAGNY",
    "EMEKA", "FARHAN", "FEMI", "GIORGOS", "HIROSHI", "IBRAHIM", "IFEOMA", "IVANA", "JAYLEN", "JIHO", "KAITO",
    "KALANI", "KEANU", "KENJI", "KWAME", "LEILANI", "LIANG", "MALAK", "MATEO", "MEHMET", "MIRELA", "NAVEEN",
    "NIAMH", "NKECHI", "OKSANA", "OLUWASEUN", "PRIYA", "QUANG", "RAHUL", "RASHIDA", "RENATA", "ROHAN", "SAOIRSE",
    "SANJAY", "SEO", "SIONE", "SIOBHAN", "SOREN", "SUNIL", "TADEO", "TAKUMI", "TARIQ", "THANDIWE", "TOMASZ", "UZMA",
    "VALENTINA", "XIOMARA", "YARA", "YASMIN", "YUSUF", "ZAINAB", "ZEYNEP", "ZOLTAN", "BONGANI", "COSMIN", "DALIA",
    "EITAN", "FIADH", "GULNARA", "HYUN", "ILSE", "JOVAN", "KATERYNA", "LWAZI", "MANON", "NUNO", "OLEK", "PAAVO",
    "RADEK", "SAKURA", "TEVITA", "UGO", "VESNA", "WIREMU", "XIMENA", "YOSHIKO", "ZUBAIR", "BLORF", "DRONIFY",
    "SNACKLE", "GLIMMERLY", "ZOOMCAST", "YEET", "RIZZ", "DOOMSCROLL", "VAXX",
]

PARTNERS: dict[str, list[str]] = defaultdict(list)
for _pair in CONFUSED_LETTERS:
    _a, _b = sorted(_pair)
    PARTNERS[_a].append(_b)
    PARTNERS[_b].append(_a)


def drop(word: str) -> list[str]:
    return sorted({word[:i] + word[i + 1:] for i in range(len(word))} - {""})


def double(word: str) -> list[str]:
    return sorted({word[:i + 1] + word[i:] for i in range(len(word))})


def confuse(word: str) -> list[str]:
    return sorted({word[:i] + partner + word[i + 1:]
                   for i, letter in enumerate(word) for partner in PARTNERS.get(letter, [])})


def swap(word: str) -> list[str]:
    return sorted({word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1)} - {word})


def other(word: str) -> list[str]:
    """Three substitutions by a letter not confused with the one replaced (drawn with the word as the seed)."""
    rng = random.Random(word)
    out = set()
    for i in rng.sample(range(len(word)), min(3, len(word))):
        choices = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c != word[i] and c not in PARTNERS.get(word[i], [])]
        out.add(word[:i] + rng.choice(choices) + word[i + 1:])
    return sorted(out)


ERRORS: dict[str, Callable[[str], list[str]]] = {
    "none": lambda word: [word], "drop": drop, "double": double, "confuse": confuse, "swap": swap, "other": other,
}


def english_sample(suggester: WordSuggester, n: int = 400, top: int = 30_000, seed: int = 0) -> list[str]:
    words = sorted(suggester._english.items(), key=lambda item: -item[1])[:top]
    pool = sorted(w.upper() for w, _ in words if 2 <= len(w) <= 10 and w.isalpha() and w.isascii())
    return random.Random(seed).sample(pool, n)


def cases(words: list[str]) -> list[tuple[str, str, str]]:
    """(error kind, truth, raw) for every word and every way each kind of error can change it (three for 'other')."""
    return [(kind, word, raw) for word in words for kind, make in ERRORS.items() for raw in make(word)]


def score(suggester: WordSuggester, rows: list[tuple[str, str, str]]) -> dict[str, Counter[str]]:
    """Per error kind: shown (a suggestion appeared), right (it was the truth), raw_right (the raw was the truth)."""
    tally: dict[str, Counter[str]] = defaultdict(Counter)
    for kind, truth, raw in rows:
        found = suggester.suggest(raw)
        shown = found.word if found else raw
        tally[kind]["n"] += 1
        tally[kind]["shown"] += found is not None
        tally[kind]["right"] += found is not None and found.word == truth
        tally[kind]["wrong"] += found is not None and found.word != truth
        tally[kind]["exact_raw"] += raw == truth
        tally[kind]["exact_suggested"] += shown == truth
    return tally


def table(title: str, tally: dict[str, Counter[str]]) -> str:
    lines = [f"{title}", "| error | words | suggestion shown | right | wrong | exact raw | exact with suggestion |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    total: Counter[str] = Counter()
    for kind in ERRORS:
        t = tally.get(kind)
        if not t:
            continue
        total.update(t)
        lines.append(f"| {kind} | {t['n']} | {t['shown']} | {t['right']} | {t['wrong']} | {t['exact_raw']} "
                     f"| {t['exact_suggested']} |")
    lines.append(f"| all | {total['n']} | {total['shown']} | {total['right']} | {total['wrong']} "
                 f"| {total['exact_raw']} | {total['exact_suggested']} |")
    return "\n".join(lines)


def score_pairs(suggester: WordSuggester, pairs: list[tuple[str, str]]) -> None:
    """Print each (truth, raw) with its suggestion, and the words exact with and without suggestions."""
    exact_raw = exact_suggested = 0
    for truth, raw in pairs:
        found = suggester.suggest(raw)
        shown = found.word if found else raw
        exact_raw += raw == truth
        exact_suggested += shown == truth
        note = f"{found.word} (cost {found.cost:g}, score {found.score:.3f})" if found else "-"
        shown_raw = raw or "''"
        print(f"{truth:>12} {shown_raw:>12} -> {note}")
    print(f"words exact: {exact_raw}/{len(pairs)} raw, {exact_suggested}/{len(pairs)} with suggestions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", action="store_true", help="also score a grid of SuggestConfig knobs")
    parser.add_argument("--pairs", nargs="+", metavar="TRUTH:RAW",
                        help="only score these spelled words (e.g. a decoder's output: WHEN:WHSN BE:), then stop")
    args = parser.parse_args()
    start = time.perf_counter()
    suggester = WordSuggester(cache_size=1_000_000)  # every word's lookup is kept for the sweep
    print(f"English index: {suggester.word_count} words in {time.perf_counter() - start:.1f} s")
    if args.pairs:
        score_pairs(suggester, [pair.upper().partition(":")[::2] for pair in args.pairs])
        return
    inside = [n for n in NAMES if n.lower() in suggester._english]
    if inside:
        raise SystemExit(f"NAMES must be outside the English list; these are in it: {' '.join(inside)}")
    names = cases(NAMES)
    english = cases(english_sample(suggester))
    configs = [SuggestConfig()]
    if args.sweep:
        configs += [SuggestConfig(cost_decades=d, unknown_word_count=u, min_score=s, short_letters=n, short_max_cost=c)
                    for d in (2.0, 2.5, 3.0) for u in (1e2, 1e3, 1e4) for s in (0.9, 0.95, 0.98)
                    for n, c in ((3, 1.0), (4, 1.0), (4, 0.5), (5, 0.5), (5, 1.0))]
    allowed = []
    for index, config in enumerate(configs):
        suggester.reconfigure(config)
        start = time.perf_counter()
        name_tally = score(suggester, names)
        english_tally = score(suggester, english)
        per_call = (time.perf_counter() - start) / (len(names) + len(english)) * 1e3
        n_shown = sum(t["shown"] for t in name_tally.values())
        e_right = sum(t["right"] for k, t in english_tally.items() if k != "none")
        e_wrong = sum(t["wrong"] for t in english_tally.values())
        e_n = sum(t["n"] for k, t in english_tally.items() if k != "none")
        print(f"{config}: names shown {n_shown}/{len(names)}, English with an error recovered {e_right}/{e_n}, "
              f"English wrong suggestions {e_wrong}/{len(english)}, {per_call:.2f} ms per suggest")
        # The rule that picks the defaults: never a suggestion over a name or an English word spelled right, at most
        # 1 % of misspelled names given one; then the most English words recovered.
        if name_tally["none"]["shown"] == 0 and english_tally["none"]["shown"] == 0 and n_shown <= 0.01 * len(names):
            allowed.append((e_right, -n_shown, -index, config))
        if index == 0:
            print(table(f"\nNames outside the lists ({len(NAMES)} words)", name_tally))
            print(table("\nEnglish words (400 of the 30,000 commonest)", english_tally) + "\n")
    # The names as the user's own list (--words): how many come back from an error, and what the list costs the
    # English words.
    with_names = WordSuggester({name: 1 for name in NAMES}, cache_size=1_000_000)
    name_tally = score(with_names, names)
    english_tally = score(with_names, english)
    print(table(f"\nNames in the user's list ({len(NAMES)} words)", name_tally))
    print(table("\nEnglish words with those names in the user's list", english_tally))
    if args.sweep and allowed:
        print(f"\nchosen by the rule: {max(allowed)[-1]}")

if __name__ == "__main__":
    main()
