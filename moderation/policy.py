"""The prompt policy (the moderation work fills this in)."""


def check_generation_request(owner, texts: list[str], cameos: list) -> None:
    """Raise generation.errors.PolicyRefused naming the rule category a prompt breaks."""
