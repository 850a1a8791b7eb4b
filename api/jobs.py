"""RQ entry points of the API (CPU queue). Jobs take ids and claim their row conditionally."""

from api.webhooks import attempt_delivery


def deliver_webhook(delivery_id: int) -> str:
    """Send one webhook delivery if it is due (see api.webhooks.attempt_delivery)."""
    return attempt_delivery(delivery_id)
