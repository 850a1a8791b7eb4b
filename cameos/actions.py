"""Cameo operations used by generation (the cameo work fills these in)."""


def cameos_for_request(owner, texts: list[str], cameo_codes: list[str]) -> list:
    """The cameos a request uses (picked by code or @mentioned in `texts`), after checking that
    `owner` may use each of them; raises generation.errors.ConsentRefused otherwise."""
    return []


def record_cameo_uses(generation, cameos: list) -> None:
    """Write the usage record and ledger entry of each cameo the generation uses."""


def check_consent_before_generating(generation) -> None:
    """The worker's re-check right before generating; raises ConsentRefused if revoked."""
