"""A page of a feed (For You's ranked ids, Following's newest posts), as the viewer may see
them now, in one query compiled once per process.

Every For You page fetches its rows through `Post.objects.visible_to(viewer)` again, so a cached
ranking never shows what the viewer may no longer see. Building and compiling that query (the
visibility rule's subqueries, the card columns, the viewer's likes) cost Django ~3 ms, more
than half of a cached page's server time (BENCHMARKS.md), and it is the same query every time
but for the viewer's id and the page's post ids. So each process compiles it once per kind of
viewer (anonymous, member, teen, staff) and page length, with stand-in ids, and then runs the
compiled SQL with the real ids put in. The queryset is still the one `visible_to`, `for_feed`
and `with_viewer_state` build, so the rule stays in one place; it must stay a function of the
viewer's id and flags alone (no `now()` in it), which `visible_to`'s docstring promises.
Following's page (`following_rows`) is compiled the same way, with a stand-in cursor: building
it was over half of that page's server time.
"""

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth.models import AnonymousUser
from django.db import connections
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.db.models.sql.constants import MULTI

from accounts.models import Follow
from feed.models import Post
from sora_site.keyset import make_cursor

# Values no row has: they mark where the viewer's and the posts' ids, and a cursor's time, go in
# a compiled query.
STAND_IN_USER = -7_000_001
STAND_IN_POST = -8_000_001
STAND_IN_TIME = datetime(1901, 2, 3, 4, 5, 6, 789_012, tzinfo=UTC)


@dataclass(frozen=True)
class StandIn:
    """A viewer with the flags `visible_to` reads and a stand-in id."""

    is_staff: bool
    is_teen: bool
    pk: int = STAND_IN_USER
    is_authenticated: bool = True


class CompiledPosts:
    """A queryset of posts compiled once; `rows` runs it with real values put where its
    stand-ins were (`slots`: stand-in value -> name of the real value)."""

    COMPILER_STATE = ("select", "klass_info", "annotation_col_map", "col_count", "has_extra_select")

    def __init__(self, queryset, slots: dict) -> None:
        self.query, self.db = queryset.query, queryset.db
        compiler = self.query.get_compiler(using=self.db)
        self.sql, self.params = compiler.as_sql()
        self.state = {name: getattr(compiler, name) for name in self.COMPILER_STATE}
        self.marks = [slots.get(p) if type(p) in (int, str, datetime) else None for p in self.params]
        self._builder = None

    def rows(self, values: dict) -> list[Post]:
        params = tuple(p if m is None else values[m] for p, m in zip(self.params, self.marks, strict=True))
        compiler = self.query.get_compiler(using=self.db)
        compiler.__dict__.update(self.state)
        compiler.as_sql = lambda *args, **kwargs: (self.sql, params)
        results = self.prepared(params) or compiler.execute_sql(MULTI)
        build = self.builder()
        return [build(row) for row in compiler.results_iter(results)]

    def builder(self):
        """A function making a post (and the authors and generations selected with it) from a
        row, as django.db.models.query.ModelIterable does for this query's shape, built once."""
        if self._builder is None:
            select, klass_info = self.state["select"], self.state["klass_info"]
            build = _instances(klass_info, select, self.db)
            annotations = tuple(self.state["annotation_col_map"].items())

            def post_of(row):
                post = build(row)
                for name, position in annotations:
                    setattr(post, name, row[position])
                return post

            self._builder = post_of
        return self._builder

    def prepared(self, params: tuple) -> list | None:
        """On PostgreSQL, the rows fetched with server-side binding, which psycopg prepares on a
        connection from its fifth run there (`prepare_threshold`, set only with the pool,
        `DB_POOL`, whose connections keep their prepared statements from request to request):
        PostgreSQL then stops planning the same SQL for every page (planning was ~0.4 ms of the
        ~0.5 ms the server spent on a For You page; BENCHMARKS.md, feed round 7). Elsewhere None:
        the compiler runs the query as usual. Logged and counted like any query (the
        connection's own cursor wrapper)."""
        connection = connections[self.db]
        if connection.vendor != "postgresql":
            return None
        connection.ensure_connection()
        with connection.wrap_database_errors:
            raw = ServerBindingCursor(connection.connection)
        with connection._prepare_cursor(raw) as cursor:
            cursor.execute(self.sql, params)
            return [cursor.fetchall()]


def _instances(klass_info: dict, select: list, db: str):
    """A function making the model instance of `klass_info` (and the related ones selected with
    it, cached on it as select_related does) from a row. Like Django's `Model.from_db` and
    `RelatedPopulator`, but it fills the instance's `__dict__` instead of calling `Model.__init__`,
    which walked every field of the model for every row (a third of building a page's 15 instances;
    BENCHMARKS.md, feed round 8). Only for models without `pre_init`/`post_init` receivers, whose
    `__init__` has no other effect; the others go through `from_db`."""
    model = klass_info["model"]
    fields = klass_info["select_fields"]
    if fields != list(range(fields[0], fields[-1] + 1)) or klass_info.get("from_parent"):
        raise RuntimeError("The page query no longer has the shape feed.paging expects.")
    start, end = fields[0], fields[-1] + 1
    names = tuple(f[0].target.attname for f in select[start:end])
    pk_at = names.index(model._meta.pk.attname)
    related = [
        (_instances(info, select, db), info["local_setter"], info["remote_setter"])
        for info in klass_info.get("related_klass_infos", [])
    ]
    plain = not (pre_init.has_listeners(model) or post_init.has_listeners(model))
    new = model.__new__

    def instance(row):
        values = row[start:end]
        if values[pk_at] is None:
            return None
        if plain:
            obj = new(model)
            state = ModelState()
            state.adding, state.db = False, db
            obj.__dict__.update(zip(names, values, strict=True), _state=state)
        else:
            obj = model.from_db(db, names, values)
        for make, local_setter, remote_setter in related:
            rel = make(row)
            local_setter(obj, rel)
            if rel is not None:
                remote_setter(rel, obj)
        return obj

    return instance


def compiled_page(viewer, size: int) -> CompiledPosts:
    """`Post.objects.visible_to(viewer).filter(pk__in=ids).for_feed().with_viewer_state(viewer)`
    for `size` ids."""
    stand_ins = [STAND_IN_POST - i for i in range(size)]
    queryset = Post.objects.visible_to(viewer).filter(pk__in=stand_ins).for_feed().with_viewer_state(viewer)
    compiled = CompiledPosts(queryset, {STAND_IN_USER: "user"} | {pk: i for i, pk in enumerate(stand_ins)})
    if [m for m in compiled.marks if m not in (None, "user")] != list(range(size)):  # each id once, in order
        raise RuntimeError("The page query no longer has the shape feed.paging expects.")
    return compiled


def compiled_following(viewer, size: int, after_cursor: bool) -> CompiledPosts:
    """Following: the newest `size` posts (after a cursor) by people the viewer follows, that the
    viewer may see, with what a card shows. Picks the page's ids first (PostgreSQL walks each
    followee's slice of feed_post_author_created_idx and sorts the union), then joins authors
    and generations for those rows only: joining first joined every followee's every post."""
    followees = Follow.objects.filter(follower=STAND_IN_USER).values("followee")
    cursor = make_cursor(STAND_IN_TIME, STAND_IN_POST) if after_cursor else ""
    page = (
        Post.objects.visible_to(viewer).filter(author__in=followees).newest_first(cursor).values("pk")[:size]
    )
    rows = Post.objects.filter(pk__in=page).for_feed().with_viewer_state(viewer).order_by("-created", "-id")
    time = connections[rows.db].ops.adapt_datetimefield_value(STAND_IN_TIME)  # a str on SQLite
    compiled = CompiledPosts(rows, {STAND_IN_USER: "user", time: "created", STAND_IN_POST: "pk"})
    if after_cursor and {"created", "pk"} - set(compiled.marks):
        raise RuntimeError("The Following query no longer has the shape feed.paging expects.")
    return compiled


_compiled: dict[tuple, CompiledPosts] = {}
_lock = threading.Lock()


def _viewer(user) -> tuple[tuple, object]:
    if user.is_authenticated:
        return (user.is_staff, bool(user.is_teen)), StandIn(
            is_staff=user.is_staff, is_teen=bool(user.is_teen)
        )
    return (None, None), AnonymousUser()


def _get(kind: tuple, build) -> CompiledPosts:
    compiled = _compiled.get(kind)
    if compiled is None:
        compiled = build()
        with _lock:
            _compiled[kind] = compiled
    return compiled


def page_rows(user, pks: list[int]) -> dict[int, Post]:
    """The posts among `pks` that `user` may see now, with what a feed card shows and `liked`,
    by pk. One query."""
    if not pks:
        return {}
    flags, viewer = _viewer(user)
    compiled = _get(("page", *flags, len(pks)), lambda: compiled_page(viewer, len(pks)))
    values = {"user": user.pk} | dict(enumerate(pks))
    return {post.pk: post for post in compiled.rows(values)}


def following_rows(user, position: tuple[datetime, int] | None, size: int) -> list[Post]:
    """Up to `size` posts by people `user` follows that they may see, newest first, after
    `position` (a parsed cursor: created, pk), with what a feed card shows and `liked`. One query."""
    flags, viewer = _viewer(user)
    after = position is not None
    compiled = _get(("following", *flags, size, after), lambda: compiled_following(viewer, size, after))
    created, pk = position or (None, None)
    created = created and connections[compiled.db].ops.adapt_datetimefield_value(created)
    return compiled.rows({"user": user.pk, "created": created, "pk": pk})
