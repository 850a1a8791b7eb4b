"""The prompt policy. Every text that can steer a video passes here before anything is written or
queued: generation requests from the web form, the API, remix and each storyboard shot (all
through generation.actions.start_generation), and the preferences a cameo owner writes.

A refusal raises PolicyRefused naming the rule category, writes a PolicyDecision row and costs no
quota (the quota counts Generation rows; a refused request writes none). Review-severity hits are
allowed and logged for moderators.

Categories: sexual content involving minors (always refused), sexual content, graphic violence,
self-harm, hate, harassment/degrading content (moderator-edited PolicyRule rows, plus the optional
profanity scorer), real public figures named without their cameo (PublicFigure rows) and each
cameo owner's own restrictions. Teens and requests with a real person's cameo get the stricter
policy: rules marked for them apply, and review rules block.
"""

import logging
import re

from django.conf import settings

from generation.errors import PolicyRefused
from moderation.classifiers import (
    BLOCK,
    Context,
    Hit,
    configured_classifiers,
    find,
    invalidate_rules,
    load_rules,
)
from moderation.models import Category, PolicyDecision, PolicyRule
from moderation.normalise import WORD, fold, normalise

__all__ = [
    "check_generation_request",
    "check_cameo_preferences",
    "check_cameo_audience",
    "evaluate",
    "invalidate_rules",
]

log = logging.getLogger(__name__)

# When several categories are hit, the first of these names the refusal.
PRIORITY = [
    Category.MINORS, Category.SEXUAL, Category.VIOLENCE, Category.SELF_HARM, Category.HATE,
    Category.HARASSMENT, Category.PUBLIC_FIGURE, Category.CAMEO_RESTRICTION, Category.TEEN,
]  # fmt: skip

# Words that open a restriction item ("no kissing", "don't make me swear") and aren't part of it.
NEGATIONS = re.compile(r"^(?:please\s+)?(?:no|not|never|nothing|without|avoid|don'?t|do not)\b\s*", re.I)
# Cameo kinds that aren't a real person (a pet, an object, a made-up character).
NOT_A_PERSON = {"character", "pet", "object", "animal"}


def check_generation_request(owner, texts: list[str], cameos: list) -> None:
    """Raise PolicyRefused naming the rule category a request breaks; log flagged requests.

    `texts`: the prompt and every storyboard shot; `cameos`: the cameos the request uses (from
    cameos.actions.consent.cameos_for_request, consent already checked). One cached rule read, no write
    unless something is refused or flagged.
    """
    context = Context(teen=owner.is_teen, real_person=any(is_real_person(cameo) for cameo in cameos))
    texts = [text for text in texts if text and text.strip()]
    hits = evaluate(texts, context)
    hits += public_figure_hits(texts, cameos)
    hits += cameo_restriction_hits(owner, texts, cameos)
    decide(owner, texts, context, hits, PolicyDecision.Source.GENERATION)


def check_cameo_preferences(owner, text: str) -> None:
    """The same policy for the preferences (appearance, voice, instructions) of `owner`'s cameo,
    which steer every video it appears in: judged as a real person's likeness, the strict way.
    Call it before saving them; raises PolicyRefused."""
    context = Context(teen=owner.is_teen, real_person=True)
    texts = [text] if text and text.strip() else []
    decide(owner, texts, context, evaluate(texts, context), PolicyDecision.Source.CAMEO_PREFERENCES)


def check_cameo_audience(owner, level: str) -> None:
    """Teens' cameos can't be open to everyone: raise PolicyRefused for a level listed in
    MODERATION_TEEN_CLOSED_CAMEO_LEVELS when `owner` is a teen. For the cameo's form and action."""
    if owner.is_teen and level in settings.MODERATION_TEEN_CLOSED_CAMEO_LEVELS:
        raise PolicyRefused(
            "Teen accounts can't open their cameo to everyone. Choose people you approve instead.",
            Category.TEEN,
        )


def evaluate(texts: list[str], context: Context) -> list[Hit]:
    """Every classifier's hits on `texts` (rules first, then e.g. the profanity scorer)."""
    hits: list[Hit] = []
    for classifier in configured_classifiers():
        hits += classifier.classify(texts, context)
    return hits


def is_real_person(cameo) -> bool:
    """A cameo of a person, as opposed to a character (pet, object): the stricter policy applies.

    Adapter over the cameos app: reads `kind` (or `is_character`) when the Cameo model has it;
    any cameo is a person otherwise.
    """
    kind = getattr(cameo, "kind", None)
    if kind is not None:
        return str(kind).lower() not in NOT_A_PERSON
    return not getattr(cameo, "is_character", False)


def public_figure_hits(texts: list[str], cameos: list) -> list[Hit]:
    """A named public figure, unless one of the cameos belongs to their own account."""
    owners = {getattr(cameo, "owner_id", None) for cameo in cameos}
    readings = [normalise(text) for text in texts]
    hits = []
    for figure in load_rules()["figures"]:
        if figure["account_id"] is not None and figure["account_id"] in owners:
            continue
        for name in figure["names"]:
            if any(find(PolicyRule.Kind.PHRASE, name, text) for text in readings):
                hits.append(Hit(Category.PUBLIC_FIGURE, BLOCK, figure["name"], "public_figures"))
                break
    return hits


def restriction_items(restrictions: str) -> list[str]:
    """A cameo's restrictions text as phrases: one per comma, semicolon or line, negation dropped."""
    items = []
    for item in re.split(r"[,;\n]+", restrictions or ""):
        item = NEGATIONS.sub("", item.strip()).strip(" .!")
        if item:
            items.append(item)
    return items


def restriction_regex(item: str) -> re.Pattern | None:
    """Each word matched by its stem, so "kissing" also catches "kiss" and "kisses"."""
    words = WORD.findall(fold(item))
    if not words:
        return None
    stems = [re.escape(stem(word)) + r"\w*" for word in words]
    return re.compile(r"(?<!\w)" + r"\s+".join(stems) + r"(?!\w)")


def stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def cameo_restriction_hits(owner, texts: list[str], cameos: list) -> list[Hit]:
    """Each cameo owner's restrictions, for anyone but the owner themself."""
    readings = [normalise(text) for text in texts]
    hits = []
    for cameo in cameos:
        if getattr(cameo, "owner_id", None) == owner.pk:
            continue
        for item in restriction_items(getattr(cameo, "restrictions", "")):
            regex = restriction_regex(item)
            if regex and any(regex.search(reading) for text in readings for reading in text.texts):
                handle = cameo.owner.handle if getattr(cameo, "owner", None) else "the owner"
                hits.append(Hit(Category.CAMEO_RESTRICTION, BLOCK, f"@{handle}: {item}"[:200], "cameo"))
                break
    return hits


def refusal_message(hit: Hit, context: Context) -> str:
    label = Category(hit.category).label
    match hit.category:
        case Category.MINORS:
            return f"This prompt was refused ({label.lower()}). This is never allowed."
        case Category.PUBLIC_FIGURE:
            return (
                f"This prompt was refused ({label.lower()}): it names {hit.matched}. A real person can "
                "only appear in a video through their own cameo."
            )
        case Category.CAMEO_RESTRICTION:
            handle, _, item = hit.matched.partition(": ")
            return (
                f"This prompt was refused ({label.lower()}): {handle} doesn't allow their cameo to be used "
                f"for “{item}”."
            )
    message = f"This prompt was refused ({label.lower()}). Rephrase it without that content."
    if hit.stricter and context.real_person:
        message += " Stricter rules apply when a real person's cameo is in the video."
    elif hit.stricter and context.teen:
        message += " Stricter rules apply to teen accounts."
    return message


def decide(owner, texts: list[str], context: Context, hits: list[Hit], source: str) -> None:
    """Refuse on the most serious blocking hit, or log the review hits and let the request on."""
    text = "\n".join(texts)[:4000]
    common = {"owner": owner, "source": source, "text": text, "teen": context.teen}
    common["real_person"] = context.real_person
    blocking = [hit for hit in hits if hit.severity == BLOCK]
    if blocking:
        hit = min(blocking, key=lambda h: PRIORITY.index(h.category))
        # The rule may have been deleted since this process cached it.
        rule_id = hit.rule_id if hit.rule_id and PolicyRule.objects.filter(pk=hit.rule_id).exists() else None
        PolicyDecision.objects.create(
            outcome=PolicyDecision.Outcome.REFUSED, category=hit.category, rule_id=rule_id,
            matched=hit.matched, classifier=hit.classifier, **common,
        )  # fmt: skip
        log.info("policy refused a %s by user %s: %s (%s)", source, owner.pk, hit.category, hit.classifier)
        raise PolicyRefused(refusal_message(hit, context), hit.category)
    flagged = {}
    for hit in hits:
        flagged.setdefault(hit.category, hit)
    live_rules = set(
        PolicyRule.objects.filter(pk__in=[h.rule_id for h in flagged.values()]).values_list("pk", flat=True)
    ) if flagged else set()  # fmt: skip
    PolicyDecision.objects.bulk_create(
        PolicyDecision(
            outcome=PolicyDecision.Outcome.FLAGGED,
            category=hit.category,
            rule_id=hit.rule_id if hit.rule_id in live_rules else None,
            matched=hit.matched,
            classifier=hit.classifier,
            **common,
        )  # fmt: skip
        for hit in flagged.values()
    )
