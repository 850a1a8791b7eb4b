from django.core.management.base import BaseCommand

from feed import semantics
from feed.models import Post


class Command(BaseCommand):
    help = "Give posts without a vector (steering and search) their vector; --all redoes every post."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Re-embed posts that already have a vector.")
        parser.add_argument("--dry-run", action="store_true", help="Only count the posts.")
        parser.add_argument("--batch", type=int, default=500)

    def handle(self, *args, all=False, dry_run=False, batch=500, **options):
        rows = Post.objects.select_related("generation").only(
            "pk", "caption", "hide_prompt", "generation__prompt"
        )
        if not all:
            rows = rows.filter(embedding__isnull=True)
        if dry_run:
            self.stdout.write(f"{rows.count()} posts to embed")
            return
        done, last = 0, 0
        while True:
            chunk = list(rows.filter(pk__gt=last).order_by("pk")[:batch])
            if not chunk:
                break
            vectors = semantics.embed([p.embedding_text() for p in chunk])
            for post, vector in zip(chunk, vectors, strict=True):
                post.embedding = semantics.pack(vector)
            Post.objects.bulk_update(chunk, ["embedding"])
            done += len(chunk)
            last = chunk[-1].pk
        self.stdout.write(f"embedded {done} posts")
