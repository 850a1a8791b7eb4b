"""Fill a database with realistic fake people, follows, posts, likes and comments.

For demos and benchmarks: `python manage.py seed_demo --users 500 --posts 10000`. Every post is a
succeeded draft pointing at one of a few small real clips (H.264 + AAC, made here with PyAV and
stored once under `demo/`), so pages play real video without generating thousands of files.
Rows go in chunk by chunk, in one transaction, with ids reserved up front (COPY on PostgreSQL,
bulk_create elsewhere); cost is linear in rows.
"""

import math
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import User
from feed.models import Comment, Follow, Like, Post
from generation import media
from generation.models import Generation

FIRST_NAMES = (
    "Ada Alan Amara Ana Ari Ava Bea Ben Cai Cleo Dara Dev Eli Ema Ezra Finn Gia Hana Ines Ivo Jae "
    "Jin Jude Kai Kira Lea Leo Lina Lou Maya Mei Milo Nia Noor Omar Otto Pia Quin Rafa Remy Rosa "
    "Sami Sana Tala Teo Uma Vera Wren Xena Yara Yuki Zane Zoe"
).split()
LAST_NAMES = (
    "Abe Banda Costa Diaz Eze Fox Garcia Hale Ito Jensen Kim Lund Mora Nakamura Okafor Park Quist "
    "Rossi Silva Tanaka Ueda Vance Wong Xu Yilmaz Zhou"
).split()
BIOS = (
    "Making tiny films about big feelings.",
    "Sound first, pictures second.",
    "Cats, synths and slow zooms.",
    "I remix everything. Sorry not sorry.",
    "Weekend storyteller. Weekday debugger.",
    "Bringing dreams to 8 seconds at a time.",
    "Animation nerd · coffee · trains",
    "",
    "",
)
SUBJECTS = (
    "a corgi", "an astronaut", "a jazz trio of robots", "two foxes", "a paper boat", "a street dancer",
    "a tiny dragon", "a lighthouse keeper", "a skateboarding grandma", "a jellyfish", "a chef", "a snow leopard",
)  # fmt: skip
ACTIONS = (
    "surfing a huge wave", "dancing in the rain", "building a sandcastle", "playing the cello",
    "racing through neon streets", "drifting over a glacier", "cooking ramen", "reading by candlelight",
)  # fmt: skip
PLACES = (
    "at sunset", "on the moon", "in a rainy Tokyo alley", "under the northern lights", "in a cozy attic",
    "on a crowded beach", "in a misty forest", "at a 1970s disco",
)  # fmt: skip
STYLES = (
    "cinematic",
    "claymation",
    "anime style",
    "shot on 16mm film",
    "watercolor",
    "hyperreal",
    "lo-fi VHS",
)
SOUNDS = (
    "crashing waves", "a soft piano", "laughter", "rain on a tin roof", "a booming bass line",
    "birdsong", "crackling fire", "city traffic",
)  # fmt: skip
CAPTIONS = (
    "first try!", "this took 12 attempts lol", "sound on 🔊", "remix this", "my cat approves",
    "can't stop watching", "", "", "", "vibes", "new series, part 1", "who did it better?",
)  # fmt: skip
COMMENTS = (
    "this is incredible", "how did you get the sound so good?", "😂😂😂", "the ending!!",
    "need a part two", "teach me your prompt ways", "ok this is art", "lol the dog", "love the colours",
    "remixing this right now", "underrated", "wow",
)  # fmt: skip

CHUNK = 5_000
CLIPS = 4


def make_demo_clip(variant: int, *, frames: int = 24, fps: int = 12, width: int = 96, height: int = 160):
    """A small real clip: animated colour bands and a chord. Returns (mp4, poster, sprite) bytes.

    About 0.1 s on one core. Variant changes the palette, motion and pitch.
    """
    rng = np.random.default_rng(variant)
    base = rng.integers(40, 215, size=3)
    y = np.arange(height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    video = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        phase = 2 * math.pi * t / frames
        for channel in range(3):
            wave = np.sin((x + y * (channel + 1)) / (12 + 4 * variant) + phase * (channel + 1))
            video[t, ..., channel] = np.clip(base[channel] + 60 * wave, 0, 255)
    rate = 24_000
    seconds = np.arange(round(frames / fps * rate), dtype=np.float32) / rate
    pitch = 220.0 * 2 ** (variant / 12)
    chord = sum(np.sin(2 * math.pi * pitch * ratio * seconds) for ratio in (1.0, 1.25, 1.5)) / 6
    audio = np.stack([chord, chord]).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        media.write_mp4(path, video, fps, audio, rate)
        mp4 = path.read_bytes()
    return mp4, media.poster_jpeg(video), media.sprite_sheet_jpeg(video)


def store_demo_clips(count: int) -> list[dict]:
    """Make (once) and store `count` demo clips; returns field values for Generation rows."""
    clips = []
    for i in range(count):
        names = {
            kind: f"demo/clip-{i}/{kind}.{ext}"
            for kind, ext in (("video", "mp4"), ("poster", "jpg"), ("sprite", "jpg"))
        }
        if not all(default_storage.exists(name) for name in names.values()):
            files = dict(zip(("video", "poster", "sprite"), make_demo_clip(i), strict=True))
            for kind, name in names.items():
                if default_storage.exists(name):
                    default_storage.delete(name)
                saved = default_storage.save(name, ContentFile(files[kind]))
                assert saved == name, f"storage renamed {name} to {saved}"
        clips.append({**names, "width": 96, "height": 160, "duration": 2.0})
    return clips


def power_weights(n: int, exponent: float) -> list[float]:
    """Cumulative Zipf-like weights: a few people are very popular or prolific, most aren't."""
    total, cumulative = 0.0, []
    for rank in range(n):
        total += 1.0 / (rank + 1) ** exponent
        cumulative.append(total)
    return cumulative


class Inserter:
    """Writes rows given as dicts of column values (ids included): COPY on PostgreSQL, which is
    about ten times faster than INSERT for a million rows, bulk_create elsewhere.

    Columns a row leaves out get the model field's default (callable defaults, such as unique
    codes, are called per row). Given values must be plain Python values (str, int, bool,
    datetime, None).
    """

    def __init__(self, model):
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields]
        self.postgres = connection.vendor == "postgresql"
        self.constant, self.per_row = {}, {}
        for f in self.fields:
            if f.primary_key:
                continue
            if f.has_default() and callable(f.default):
                self.per_row[f.attname] = f
            else:
                value = f.get_default()
                self.constant[f.attname] = f.get_db_prep_save(value, connection) if self.postgres else value
        self.columns = [f.attname for f in self.fields]

    def reserve_ids(self, n: int) -> range:
        """`n` fresh primary keys, taken from the table's sequence (or after its largest id)."""
        table = self.model._meta.db_table
        with connection.cursor() as cursor:
            if self.postgres:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), nextval(pg_get_serial_sequence(%s, 'id')) + %s - 1)",
                    [table, table, n],
                )
                last = cursor.fetchone()[0]
                return range(last - n + 1, last + 1)
            cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')
            first = cursor.fetchone()[0] + 1
            return range(first, first + n)

    def insert(self, rows: list[dict]) -> int:
        for row in rows:
            for name, field in self.per_row.items():
                if name not in row:
                    value = field.get_default()
                    row[name] = field.get_db_prep_save(value, connection) if self.postgres else value
        if not rows:
            return 0
        if not self.postgres:
            self.model.objects.bulk_create([self.model(**row) for row in rows], batch_size=1000)
            return len(rows)
        table = self.model._meta.db_table
        names = ", ".join(f'"{c}"' for c in self.columns)
        constant = self.constant
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy,
        ):
            for row in rows:
                copy.write_row([row[c] if c in row else constant[c] for c in self.columns])
        return len(rows)


class Command(BaseCommand):
    help = (
        "Fill the database with realistic fake users, follows, posts (sharing a few small real "
        "video files), likes and comments, for demos and benchmarks."
    )

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=50, help="How many people to create (default 50).")
        parser.add_argument("--posts", type=int, default=500, help="How many posts to create (default 500).")
        parser.add_argument(
            "--seed", type=int, default=None, help="Random seed, for a reproducible data set."
        )
        parser.add_argument("--days", type=int, default=30, help="Spread posts over this many past days.")
        parser.add_argument("--likes-per-post", type=float, default=3.0, help="Mean likes per post.")
        parser.add_argument("--comments-per-post", type=float, default=0.6, help="Mean comments per post.")
        parser.add_argument("--follows-per-user", type=int, default=15, help="Mean follows per person.")
        parser.add_argument("--password", default="demo-password-1", help="Password of every demo account.")
        parser.add_argument("--dry-run", action="store_true", help="Do everything, then roll back.")

    def handle(self, *args, **opts):
        if opts["users"] < 2 or opts["posts"] < 0:
            raise CommandError("Need at least 2 users and a non-negative number of posts.")
        self.rng = random.Random(opts["seed"])
        self.now = timezone.now()
        self.opts = opts
        started = time.monotonic()
        clips = [{"video": "", "poster": "", "sprite": ""}] if opts["dry_run"] else store_demo_clips(CLIPS)
        with transaction.atomic():
            users = self.create_users(opts["users"])
            follows = self.create_follows(users)
            counts = self.create_posts(users, clips, opts["posts"])
            if opts["dry_run"]:
                transaction.set_rollback(True)
        verb = "Would create" if opts["dry_run"] else "Created"
        self.stdout.write(
            f"{verb} {len(users)} users, {follows} follows, {counts['posts']} posts, {counts['likes']} likes, "
            f"{counts['comments']} comments in {time.monotonic() - started:.1f} s."
        )

    def log(self, text: str) -> None:
        if self.opts["verbosity"] >= 2:
            self.stdout.write(text)

    def create_users(self, n: int) -> list[int]:
        taken = set(User.objects.annotate(h=Lower("handle")).values_list("h", flat=True))
        password = make_password(self.opts["password"])  # hashed once: the slow part of a user
        inserter = Inserter(User)
        ids = inserter.reserve_ids(n)
        rows = []
        serial = 0
        for pk in ids:
            first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
            while True:
                serial += 1
                handle = f"{first}.{last}{serial}"[:30]
                if handle.lower() not in taken:
                    break
            taken.add(handle.lower())
            teen = self.rng.random() < 0.08
            age = self.rng.randint(13, 17) if teen else self.rng.randint(18, 60)
            rows.append(
                {
                    "id": pk,
                    "handle": handle,
                    "email": f"{handle.lower()}@demo.invalid",
                    "password": password,
                    "display_name": f"{first} {last}",
                    "bio": self.rng.choice(BIOS),
                    "birth_date": date(self.now.year - age, self.rng.randint(1, 12), self.rng.randint(1, 28)),
                    "date_joined": self.now - timedelta(days=self.opts["days"] + self.rng.randint(0, 300)),
                }
            )
        inserter.insert(rows)
        self.log(f"users: {len(rows)}")
        return list(ids)

    def create_follows(self, users: list[int]) -> int:
        popularity = power_weights(len(users), 0.9)
        mean = self.opts["follows_per_user"]
        inserter = Inserter(Follow)
        rows, total = [], 0
        for follower in users:
            k = min(len(users) - 1, int(self.rng.expovariate(1 / mean)) + 1)
            followees = set(self.rng.choices(users, cum_weights=popularity, k=k)) - {follower}
            for followee in sorted(followees):
                when = self.now - timedelta(minutes=self.rng.randint(0, self.opts["days"] * 1440))
                rows.append({"follower_id": follower, "followee_id": followee, "created": when})
        for row, pk in zip(rows, inserter.reserve_ids(len(rows)), strict=True):
            row["id"] = pk
        for first in range(0, len(rows), CHUNK):
            total += inserter.insert(rows[first : first + CHUNK])
        self.log(f"follows: {total}")
        return total

    def create_posts(self, users: list[int], clips: list[dict], n: int) -> dict:
        """Posts in time order, chunk by chunk: generations, posts, then their likes and comments."""
        rng = self.rng
        prolific = power_weights(len(users), 1.1)
        span = timedelta(days=self.opts["days"]).total_seconds()
        start = self.now - timedelta(days=self.opts["days"])
        sources: list[tuple[int, int]] = []  # (post pk, generation pk) of public posts to remix
        remixed: dict[int, int] = {}
        totals = {"posts": 0, "likes": 0, "comments": 0}
        authors = users[:]
        rng.shuffle(authors)  # so the prolific authors aren't simply the oldest accounts
        generations, posts_out = Inserter(Generation), Inserter(Post)
        likes_out, comments_out = Inserter(Like), Inserter(Comment)
        for first in range(0, n, CHUNK):
            size = min(CHUNK, n - first)
            generation_ids, post_ids = generations.reserve_ids(size), posts_out.reserve_ids(size)
            generation_rows, posts = [], []
            for i, generation_id, post_id in zip(range(size), generation_ids, post_ids, strict=True):
                created = start + timedelta(seconds=span * (first + i + rng.random()) / max(n, 1))
                author = rng.choices(authors, cum_weights=prolific)[0]
                source = rng.choice(sources) if sources and rng.random() < 0.06 else None
                generation_rows.append(self.generation_row(generation_id, created, author, source, clips))
                roll = rng.random()
                visibility = "public" if roll < 0.86 else "followers" if roll < 0.96 else "only_me"
                posts.append(
                    {
                        "id": post_id,
                        "author_id": author,
                        "generation_id": generation_id,
                        "caption": rng.choice(CAPTIONS),
                        "hide_prompt": rng.random() < 0.15,
                        "visibility": visibility,
                        "mature": rng.random() < 0.02,
                        "hidden": rng.random() < 0.005,
                        "created": created,
                        "source_post_id": source[0] if source else None,
                    }
                )
                if source:
                    remixed[source[0]] = remixed.get(source[0], 0) + 1
            likes, comments = self.plan_engagement(posts, users)
            generations.insert(generation_rows)
            posts_out.insert(posts)
            for row, pk in zip(likes, likes_out.reserve_ids(len(likes)), strict=True):
                row["id"] = pk
            likes_out.insert(likes)
            self.insert_comments(comments_out, comments)
            sources += [
                (p["id"], p["generation_id"])
                for p in posts
                if p["visibility"] == "public" and not p["hidden"]
            ]
            if len(sources) > 50_000:
                sources = rng.sample(sources, 25_000)
            totals["posts"] += len(posts)
            totals["likes"] += len(likes)
            totals["comments"] += len(comments)
            self.log(f"posts: {totals['posts']}")
        self.apply_remix_counts(remixed)
        return totals

    def generation_row(self, pk: int, created, author: int, source, clips: list[dict]) -> dict:
        rng = self.rng
        clip = rng.choice(clips)
        prompt = (
            f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(ACTIONS)} {rng.choice(PLACES)}, "
            f"{rng.choice(STYLES)}, with the sound of {rng.choice(SOUNDS)}"
        )
        return {
            "id": pk,
            "owner_id": author,
            "prompt": prompt,
            "seconds": rng.choice((4, 8)),
            "orientation": "portrait",
            "seed": rng.randint(0, 2**32 - 1),
            "source_id": source[1] if source else None,
            "status": "succeeded",
            "check_status": "passed",
            "stage": "done",
            "created": created - timedelta(minutes=3),
            "started": created - timedelta(minutes=3),
            "finished": created - timedelta(minutes=1),
            "video": clip["video"],
            "poster": clip["poster"],
            "sprite": clip["sprite"],
            "width": clip.get("width"),
            "height": clip.get("height"),
            "duration": clip.get("duration"),
            "model_id": "demo",
        }

    def engagement_time(self, created):
        return min(created + timedelta(minutes=self.rng.randint(1, 3 * 1440)), self.now)

    def plan_engagement(self, posts: list[dict], users: list[int]) -> tuple[list[dict], list[dict]]:
        """Likes and comments for a chunk of posts, with the posts' counters set to match."""
        rng = self.rng
        likes, comments = [], []
        mean_likes, mean_comments = self.opts["likes_per_post"], self.opts["comments_per_post"]
        for post in posts:
            post["like_count"] = post["comment_count"] = 0
            if post["visibility"] == "only_me":
                continue
            # Heavy-tailed: most posts get a few likes, a few get many.
            k = min(len(users) - 1, int(rng.paretovariate(2.0) * mean_likes / 2))
            likers = set(rng.sample(users, k)) - {post["author_id"]} if k else set()
            for user in sorted(likers):
                likes.append(
                    {"user_id": user, "post_id": post["id"], "created": self.engagement_time(post["created"])}
                )
            post["like_count"] = len(likers)
            n_comments = int(rng.expovariate(1 / mean_comments)) if mean_comments > 0 else 0
            thread: list[dict] = []
            for _ in range(n_comments):
                parent = rng.choice(thread) if thread and rng.random() < 0.25 else None
                comment = {
                    "post_id": post["id"],
                    "author_id": rng.choice(users),
                    "body": rng.choice(COMMENTS),
                    "created": self.engagement_time(post["created"]),
                    "parent": parent,
                }
                comments.append(comment)
                if parent is None:
                    thread.append(comment)
            post["comment_count"] = n_comments
        return likes, comments

    def insert_comments(self, inserter: Inserter, comments: list[dict]) -> None:
        """Ids first, so replies can point at their parents; then one insert."""
        for row, pk in zip(comments, inserter.reserve_ids(len(comments)), strict=True):
            row["id"] = pk
        for row in comments:
            parent = row.pop("parent")
            row["parent_id"] = parent["id"] if parent else None
        # Parents before replies: a reply's parent is always earlier in the list.
        inserter.insert(comments)

    def apply_remix_counts(self, remixed: dict[int, int]) -> None:
        posts = [Post(pk=pk, remix_count=count) for pk, count in remixed.items()]
        Post.objects.bulk_update(posts, ["remix_count"], batch_size=1000)
