"""A page of a ranked feed: the page's posts, as the viewer may see them now, in one query.

Every For You page fetches its rows through `Post.objects.visible_to(viewer)` again, so a cached
ranking never shows what the viewer may no longer see. Building and compiling that query (the
visibility rule's subqueries, the card columns, the viewer's likes) cost Django ~3 ms, more
than half of a cached page's server time (BENCHMARKS.md), and it is the same query every time
but for the viewer's id and the page's post ids. So each process compiles it once per kind of
viewer (anonymous, member, teen, staff) and page length, with stand-in ids, and then runs the
compiled SQL with the real ids put in. The queryset is still the one `visible_to`, `for_feed`
and `with_viewer_state` build, so the rule stays in one place; it must stay a function of the
viewer's id and flags alone (no `now()` in it), which `visible_to`'s docstring promises.
"""

import threading
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.db.models.query import get_related_populators
from django.db.models.sql.constants import MULTI

from feed.models import Post

# Ids no row has: they mark where the viewer's and the posts' ids go in the compiled query.
STAND_IN_USER = -7_000_001
STAND_IN_POST = -8_000_001


@dataclass(frozen=True)
class StandIn:
    """A viewer with the flags `visible_to` reads and a stand-in id."""

    is_staff: bool
    is_teen: bool
    pk: int = STAND_IN_USER
    is_authenticated: bool = True


class CompiledPage:
    """`Post.objects.visible_to(viewer).filter(pk__in=ids).for_feed().with_viewer_state(viewer)`,
    compiled once for `size` ids; `rows` runs it for a real viewer and ids."""

    COMPILER_STATE = ("select", "klass_info", "annotation_col_map", "col_count", "has_extra_select")

    def __init__(self, viewer, size: int) -> None:
        stand_ins = [STAND_IN_POST - i for i in range(size)]
        queryset = (
            Post.objects.visible_to(viewer).filter(pk__in=stand_ins).for_feed().with_viewer_state(viewer)
        )
        self.query, self.db = queryset.query, queryset.db
        compiler = self.query.get_compiler(using=self.db)
        self.sql, self.params = compiler.as_sql()
        self.state = {name: getattr(compiler, name) for name in self.COMPILER_STATE}
        self.slots = {STAND_IN_USER: "user"} | {pk: i for i, pk in enumerate(stand_ins)}
        marks = [p for p in self.params if type(p) is int and p in self.slots]
        if [m for m in marks if m != STAND_IN_USER] != stand_ins:  # each page id once, in order
            raise RuntimeError("The page query no longer has the shape feed.paging expects.")

    def rows(self, viewer_id, pks: list[int]) -> list[Post]:
        params = []
        for p in self.params:
            slot = self.slots.get(p) if type(p) is int else None
            params.append(p if slot is None else viewer_id if slot == "user" else pks[slot])
        compiler = self.query.get_compiler(using=self.db)
        compiler.__dict__.update(self.state)
        compiler.as_sql = lambda *args, **kwargs: (self.sql, tuple(params))
        results = compiler.execute_sql(MULTI)
        # As django.db.models.query.ModelIterable does, for this query's shape.
        select, klass_info = self.state["select"], self.state["klass_info"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        init_list = [f[0].target.attname for f in select[start:end]]
        populators = get_related_populators(klass_info, select, self.db)
        posts = []
        for row in compiler.results_iter(results):
            post = Post.from_db(self.db, init_list, row[start:end])
            for populator in populators:
                populator.populate(row, post)
            for name, position in self.state["annotation_col_map"].items():
                setattr(post, name, row[position])
            posts.append(post)
        return posts


_compiled: dict[tuple, CompiledPage] = {}
_lock = threading.Lock()


def page_rows(user, pks: list[int]) -> dict[int, Post]:
    """The posts among `pks` that `user` may see now, with what a feed card shows and `liked`,
    by pk. One query."""
    if not pks:
        return {}
    if user.is_authenticated:
        kind = (user.is_staff, bool(user.is_teen), len(pks))
        viewer = StandIn(is_staff=user.is_staff, is_teen=bool(user.is_teen))
    else:
        kind, viewer = (None, None, len(pks)), AnonymousUser()
    compiled = _compiled.get(kind)
    if compiled is None:
        compiled = CompiledPage(viewer, len(pks))
        with _lock:
            _compiled[kind] = compiled
    return {post.pk: post for post in compiled.rows(user.pk, pks)}
