"""What cameos tells the apps above it (provenance, feed, moderation), which it may not import.

Each signal is sent synchronously with `send` (never `send_robust`), inside the caller's
transaction: a receiver's writes stand or fall with the cameo action, and an exception it raises
rolls the action back. Receivers live in the higher app's `receivers.py`, connected in its
`AppConfig.ready`. Where cameos needs an answer (a post's code, a likeness match), receivers
return it and `answers` collects them.
"""

from django.dispatch import Signal

# Someone else used a cameo (sent once the use commits): `use` (CameoUse). Feed: the owner's bell.
cameo_used = Signal()

# A video may no longer show `cameo` (consent narrowed): `cameo`, `generation`. Receivers take
# down what they publish of it and return the code of the post they took down (feed: unpost).
consent_withdrawn = Signal()

# The cameo's owner removed a video that used their cameo: `cameo`, `generation`. Receivers
# delete what they publish of it along with the draft, and return the code of the post they
# deleted (feed: delete_post); when none answers, cameos deletes the draft itself.
video_removed = Signal()

# A `Withdrawal` was recorded: `withdrawal`. Receivers add what they know of the video
# (provenance: the tracking id of its export).
withdrawal_recorded = Signal()

# Tell `author_id` their videos were taken down: `author_id`, `message`. Feed: a notification.
withdrawal_notice = Signal()

# A cameo's owner blocks someone from their cameo page: `blocker`, `blocked`. Feed: its block
# (follows end both ways); a receiver raises CameoRefused when the block is refused.
block_requested = Signal()

# The owner wants to save these preferences for their cameo: `owner`, `text`. Moderation: the
# prompt policy, which raises generation.errors.GenerationRefused to refuse them.
preferences_submitted = Signal()

# Which other likeness is closest to a new face: `cameo`, `face` (embedding), `within`
# (distance). Receivers return (distance, match) for their closest match within `within`, or
# None (moderation: the public figures with a reference picture).
likeness_wanted = Signal()


def answers(responses: list[tuple]) -> list:
    """The non-empty answers of a `send`'s receivers, in the order they were connected."""
    return [response for _, response in responses if response]
