"""Passages a cameo owner reads aloud to give their voice (30-60 s at a calm pace).

Written for this site (no licence questions) and built like the classic phonetic reading passages:
every English vowel, voiced and voiceless consonants, questions and numbers, so a voice converter's
matching set covers the sounds a video may need. About 110-140 words each.
"""

import hashlib

PASSAGES = [
    "When the morning fog lifts over the harbour, the fishing boats come home one by one. "
    "The captain of the red boat always waves to the children on the pier, and they shout back, "
    "asking how many fish he caught today. Some days it is thirty, some days only three. "
    "He laughs either way, because the sea decides, not him. Later, the market fills with voices: "
    "a woman sells fresh bread and yellow cheese, a boy juggles oranges for a coin, and an old man "
    "plays a quiet tune on a violin. By noon the sun is high, the air smells of salt and coffee, "
    "and the whole town seems to breathe a little slower. Would you stay here for a week? "
    "I think I would stay for a year.",
    "My grandmother kept a notebook of every journey she ever took. On the first page she wrote "
    "about a night train to the mountains, where snow covered the windows and a stranger shared "
    "his chocolate and his stories. On another page she described a hot afternoon in a busy city, "
    "the noise of taxis, the bright umbrellas, the taste of cold lemonade. She measured distances "
    "in songs rather than miles: a short trip was two songs, a long one was an entire album. "
    "When I asked her which place she loved most, she thought for a moment, smiled, and said that "
    "the best journey is always the one that brings you back to the people who are waiting for you.",
    "Building a small wooden boat takes patience. First you choose the timber, checking each plank "
    "for knots and cracks. Then you shape the ribs, bending them slowly with steam until they hold "
    "the curve you want. The hull comes next, plank after plank, each one fixed with bronze nails "
    "and a little glue. It is quiet work, but never boring: every joint is a question, and the "
    "answer is either tight or loose. After many weeks, you paint it blue and white, carry it to "
    "the lake and hold your breath as it touches the water. If it floats straight and dry, "
    "you have learned something that no book could teach you.",
]


def passage_for(key: str, attempt: int = 0) -> str:
    """A passage chosen by a stable hash of ``key`` (the cameo's code) and the attempt number, so a
    reload shows the same text and a retry may show another."""
    digest = hashlib.sha256(f"{key}:{attempt}".encode()).digest()
    return PASSAGES[digest[0] % len(PASSAGES)]
