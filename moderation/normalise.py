"""Text normalisation that defeats easy evasion of the prompt policy.

`normalise(text)` returns every reading of a text that the rules are matched against: the plain
one (Unicode compatibility forms folded, case folded, invisible characters and accents dropped,
Cyrillic and Greek look-alikes mapped to Latin), leetspeak readings ("s3x", "p0rn", "k1ll" with
1 read as i and as l), and squeezed readings ("seeeex"). In each reading, runs of three or more
single characters ("s e x", "s.e.x", "s-3-x") are joined into one word. A rule hits when it hits
any reading; the plain reading keeps numbers intact ("12 year old"), since leetspeak is only read
into words that contain a letter.

Patterns written by moderators go through `normalise_pattern`, the plain reading without the
joining, so "Beyoncé" in the public-figure list matches "beyonce" and "ВEYONCE" alike.
"""

import re
import unicodedata
from dataclasses import dataclass

# Cyrillic and Greek letters that look like Latin ones (lower case: text is case-folded first).
CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "і": "i", "ї": "i", "ј": "j", "к": "k", "м": "m",
        "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d",
        "ԛ": "q", "ԝ": "w", "ү": "y", "һ": "h", "ӏ": "l", "ь": "b",
        # Greek
        "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "ζ": "z", "η": "n", "θ": "o", "ι": "i",
        "κ": "k", "λ": "l", "μ": "u", "ν": "v", "ξ": "e", "ο": "o", "π": "n", "ρ": "p", "σ": "o",
        "ς": "c", "τ": "t", "υ": "u", "φ": "f", "χ": "x", "ψ": "w", "ω": "w",
        # Latin look-alikes that NFKC leaves alone
        "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ß": "ss", "æ": "ae", "œ": "oe",
    }
)  # fmt: skip

# Capitals that look Latin, mapped before case folding (Greek Ν folds to ν, which looks like v).
CONFUSABLE_CAPITALS = str.maketrans(
    {
        "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m", "Ν": "n",
        "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x", "А": "a", "В": "b", "Е": "e", "К": "k",
        "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c", "Т": "t", "Х": "x", "У": "y", "Ѕ": "s",
        "І": "i", "Ј": "j",
    }
)  # fmt: skip

LEET_I = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)
LEET_L = str.maketrans(
    {"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "l"}
)

# A chunk leetspeak may be read into: letters, digits and the symbols that stand for letters.
CHUNK = re.compile(r"[\w@$!]+")
WORD = re.compile(r"[^\W_]+")
LETTER = re.compile(r"[^\W\d_]")
REPEATS = re.compile(r"(\w)\1{2,}")
# Runs of at least this many one-character words are joined ("s e x" -> "sex"; "a b" stays).
MIN_SPACED_RUN = 3


@dataclass(frozen=True)
class Normalised:
    """The readings of one text. `texts`: space-separated words; `joined`: words made by joining
    spaced-out single characters (phrases are also looked for inside these, without spaces)."""

    texts: tuple[str, ...]
    joined: frozenset[str]

    @property
    def plain(self) -> str:
        return self.texts[0]


def fold(text: str) -> str:
    """NFKC, case fold, drop invisible format characters and accents, map look-alikes."""
    text = unicodedata.normalize("NFKC", text).translate(CONFUSABLE_CAPITALS).casefold()
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", text).translate(CONFUSABLES)


def _leet(text: str, table: dict) -> str:
    # Only chunks with a letter in them are read as leetspeak, so "12 year old" keeps its number.
    return CHUNK.sub(lambda m: m.group().translate(table) if LETTER.search(m.group()) else m.group(), text)


def _words(text: str, table: dict | None, joined: set[str]) -> str:
    words = WORD.findall(text)
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) >= MIN_SPACED_RUN:
            word = "".join(run)
            if table is not None:
                word = word.translate(table)
            joined.add(word)
            out.append(word)
        else:
            out.extend(run)
        run.clear()

    for word in words:
        if len(word) == 1:
            run.append(word)
        else:
            flush()
            out.append(word)
    flush()
    return " ".join(out)


def normalise(text: str) -> Normalised:
    folded = fold(text)
    joined: set[str] = set()
    readings = [
        _words(folded, None, joined),
        _words(_leet(folded, LEET_I), LEET_I, joined),
        _words(_leet(folded, LEET_L), LEET_L, joined),
    ]
    readings += [REPEATS.sub(r"\1", reading) for reading in readings]
    unique = tuple(dict.fromkeys(reading for reading in readings))
    return Normalised(texts=unique, joined=frozenset(joined))


def normalise_pattern(pattern: str) -> str:
    """A word or phrase as rules match it: folded, punctuation and spacing reduced to one space."""
    return " ".join(WORD.findall(fold(pattern)))
