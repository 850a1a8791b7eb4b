"""What posts are about, as vectors: embedding text, packing vectors, and parsing steering.

The model is wordllama's 16 MB static-embedding model (256 dimensions), which ships inside its
wheel: loading it reads two files from the installed package and never touches the network
(`disable_download=True`; its default loader looks for the tokenizer under a wrong folder name
and would try to fetch it, hence `cache_dir`). Embedding a caption costs ~0.1 ms on one CPU core,
so the web process embeds steering phrases and search queries on the fly and the CPU queue
embeds posts (feed.jobs.embed_post).

Vectors are stored L2-normalised and quantised to int8 (256 bytes a post, `Post.embedding`):
the dot product of two stored vectors divided by 127² is their cosine similarity within ~0.01,
which is all ranking and search need, and 600 candidates' vectors are 150 kB to read.
"""

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DIMENSIONS = 256
SCALE = 127.0

_model = None
_lock = threading.Lock()


def model():
    """The wordllama model, loaded once per process (~0.2 s) on first use."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                import wordllama
                from wordllama import WordLlama

                _model = WordLlama.load(
                    cache_dir=Path(wordllama.__file__).parent, disable_download=True, dim=DIMENSIONS
                )
    return _model


def embed(texts: list[str]) -> np.ndarray:
    """Unit vectors (float32, one row per text). An empty text gets a zero row."""
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    idx = [i for i, t in enumerate(texts) if t.strip()]
    if idx:
        vectors = np.asarray(model().embed([texts[i] for i in idx], norm=True), dtype=np.float32)
        out[idx] = vectors
    return out


_phrases: dict[str, np.ndarray] = {}


def embed_phrases(phrases: list[str]) -> np.ndarray:
    """`embed` for steering phrases, remembered per process: the same few phrases come back on
    every ranking of a steered feed, and the tokenizer's thread pool makes even a tiny call cost
    milliseconds on a busy machine (BENCHMARKS.md)."""
    missing = [p for p in phrases if p not in _phrases]
    if missing:
        if len(_phrases) > 10_000:
            _phrases.clear()
        _phrases.update(zip(missing, embed(missing), strict=True))
    out = np.zeros((len(phrases), DIMENSIONS), dtype=np.float32)
    for i, phrase in enumerate(phrases):
        out[i] = _phrases[phrase]
    return out


def pack(vector: np.ndarray) -> bytes:
    """A unit vector as the 256 bytes stored in `Post.embedding`."""
    return np.clip(np.rint(vector * SCALE), -127, 127).astype(np.int8).tobytes()


def unpack_many(blobs: list[bytes | memoryview | None]) -> np.ndarray:
    """Stored vectors as float32 unit vectors (rows), zeros where a post has none yet."""
    empty = bytes(DIMENSIONS)
    joined = b"".join(bytes(b) if b is not None and len(b) == DIMENSIONS else empty for b in blobs)
    return np.frombuffer(joined, dtype=np.int8).reshape(len(blobs), DIMENSIONS).astype(np.float32) / SCALE


def quantised(blobs: list[bytes | memoryview | None]) -> np.ndarray:
    """Stored vectors as rows of whole numbers in float32 (zeros where a post has none), for
    `similarities`."""
    empty = bytes(DIMENSIONS)
    joined = b"".join(bytes(b) if b is not None and len(b) == DIMENSIONS else empty for b in blobs)
    return np.frombuffer(joined, dtype=np.int8).reshape(len(blobs), DIMENSIONS).astype(np.float32)


def quantise(vectors: np.ndarray) -> np.ndarray:
    """Unit vectors (`embed`) as `quantised` rows."""
    return np.rint(vectors * SCALE).astype(np.float32)


def similarities(rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Cosine similarities (float32, len(rows) x len(targets)) of `quantised` rows with
    `quantised` targets. Both hold whole numbers up to 127 and 256 products of them sum to at
    most 4.2M, below float32's 2**24, so the float product is exact, the same as integer
    arithmetic, and 2-3x faster in CPU time than numpy's integer matmul (0.10 vs 0.27 ms for
    478 candidates and 3 topics, BENCHMARKS.md)."""
    return (rows @ targets.T) / (SCALE * SCALE)


# Post vectors never change (a post's caption and prompt visibility are fixed once posted), so
# each web process keeps the ones it has read: a steered ranking then reads no vector bytes from
# the database once its candidates have been seen (600 x 256 bytes cost ~8 ms of a ranking to
# fetch and convert). Posts without a vector yet are asked for again after MISS_RETRY_SECONDS.
_vectors: dict[int, bytes | None] = {}
_misses: dict[int, float] = {}
MAX_CACHED_VECTORS = 200_000  # 51 MB at most
MISS_RETRY_SECONDS = 30.0


def post_vectors(pks: list[int]) -> list[bytes | None]:
    """The stored vectors of these posts, in order (None: not embedded yet). One query for
    the ones this process hasn't read yet; none when it has read them all."""
    import time

    from django.conf import settings

    from feed.models import Post

    if settings.FEED_RANKING_CACHE_SECONDS <= 0:  # every feed cache off (tests)
        _vectors.clear()
        _misses.clear()
    now = time.monotonic()
    missing = [pk for pk in pks if pk not in _vectors and now - _misses.get(pk, -1e9) > MISS_RETRY_SECONDS]
    if missing:
        if len(_vectors) > MAX_CACHED_VECTORS:
            _vectors.clear()
        for pk, blob in Post.objects.filter(pk__in=missing).values_list("pk", "embedding"):
            if blob is not None:
                _vectors[pk] = bytes(blob)
        for pk in missing:
            if pk not in _vectors:
                _misses[pk] = now
        if len(_misses) > MAX_CACHED_VECTORS:
            _misses.clear()
    return [_vectors.get(pk) for pk in pks]


# --- steering ---------------------------------------------------------------------------------

# Words that switch between the "more" and "less" parts of a steering line.
_MORE = {"more", "plus", "extra", "lots"}
_LESS = {"less", "fewer", "no", "not", "without", "stop", "avoid", "hide", "minus"}
# Words that carry no topic ("more of the cooking videos please").
_FILLER = {
    "of",
    "the",
    "a",
    "an",
    "some",
    "please",
    "videos",
    "video",
    "posts",
    "stuff",
    "me",
    "show",
    "i",
    "want",
}
_SPLIT = re.compile(r"[,;.!\n/&+]|\band\b|\bbut\b|\bor\b", re.IGNORECASE)
MAX_PHRASES = 8


@dataclass
class Steering:
    """A steering line split into the topics to see more of and those to see less of."""

    more: list[str] = field(default_factory=list)
    less: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.more or self.less)


def parse_steering(text: str) -> Steering:
    """ "more cooking and animals, less pranks" -> more [cooking, animals], less [pranks].

    Clauses are split at commas, "and", "but"...; a clause's first "more"/"less"/"fewer"/"no"...
    word sets the direction for it and the clauses after it ("less pranks and fails": both
    less); the line starts in "more", so plain "cooking" means more cooking."""
    steering = Steering()
    direction = "more"
    for clause in _SPLIT.split(text.lower()):
        words = re.findall(r"[\w'-]+", clause)
        topic = []
        for word in words:
            if word in _MORE and not topic:
                direction = "more"
            elif word in _LESS and not topic:
                direction = "less"
            elif word not in _FILLER:
                topic.append(word)
        phrase = " ".join(topic)[:40]
        parts = steering.more if direction == "more" else steering.less
        if phrase and phrase not in parts and len(steering.more) + len(steering.less) < MAX_PHRASES:
            parts.append(phrase)
    return steering
