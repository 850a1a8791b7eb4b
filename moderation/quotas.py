"""Generation quotas (the moderation work fills this in)."""


def check_generation_quota(owner) -> None:
    """Raise generation.errors.QuotaExceeded when `owner` has used up today's generations."""
