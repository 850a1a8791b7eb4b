from generation.models import Generation


def queued_generation(owner, **fields) -> Generation:
    """A queued row as start_generation would write it, without touching Redis."""
    fields.setdefault("prompt", "a red kite over green hills, wind noise")
    fields.setdefault("seconds", 1)
    fields.setdefault("orientation", "portrait")
    fields.setdefault("seed", 1234)
    return Generation.objects.create(owner=owner, **fields)
