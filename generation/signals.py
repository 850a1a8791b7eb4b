"""What generation tells the apps above it (cameos, provenance, feed, moderation, api). generation
sits low in the layers (they build on its models), so it can't call them; they connect receivers
in their AppConfig.ready() (`<app>/receivers.py`). Receivers run in INSTALLED_APPS order and an
exception in one reaches the sender, as a direct call would."""

from django.dispatch import Signal

# Sent (generation=) after a job's end (succeeded, failed, cancelled), by the worker or by a
# cancel: feed rings the owner's bell, api queues the owner's webhooks.
generation_finished = Signal()

# Sent (generation=) when a draft's files are about to be deleted; a receiver returns a list of
# FieldFiles (None allowed) it stores for that generation (provenance: the export), deleted too.
generation_files = Signal()

# Sent (generation=) when a re-check of a stored video blocked it or sent it to review: feed hides
# its post until a moderator decides.
output_flagged = Signal()
