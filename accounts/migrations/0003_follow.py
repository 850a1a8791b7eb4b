# Follows moved from the feed app to accounts (beside Block), so the cameos app's "mutuals" rule can
# read them without reaching up a layer. The table stays `feed_follow`: only Django's state moves.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_alter_apitoken_options"),
        ("feed", "0001_initial"),  # creates the feed_follow table
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Follow",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "followee",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="follower_set",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "follower",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="following_set",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "feed_follow",
                        "indexes": [
                            models.Index(fields=["followee", "-created"], name="feed_follow_followee_idx"),
                            models.Index(fields=["follower", "-created"], name="feed_follow_follower_idx"),
                        ],
                        "constraints": [
                            models.UniqueConstraint(fields=("follower", "followee"), name="feed_follow_once"),
                            models.CheckConstraint(
                                condition=models.Q(("follower", models.F("followee")), _negated=True),
                                name="feed_follow_not_self",
                            ),
                        ],
                    },
                ),
            ],
        ),
    ]
