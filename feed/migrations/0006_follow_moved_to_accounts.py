# Follow now lives in accounts (accounts 0003 takes over the feed_follow table): state only.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("feed", "0005_notification_message_alter_notification_kind"),
        ("accounts", "0003_follow"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="Follow")],
        ),
    ]
