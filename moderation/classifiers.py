"""Classifiers behind the prompt policy: the rule engine and an optional profanity scorer.

A classifier looks at a request's texts in a `Context` and returns `Hit`s; the policy
(moderation.policy) refuses on any blocking hit and logs the review ones. MODERATION_CLASSIFIERS
lists the dotted paths of the classes in use; each is made once per process.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from django.conf import settings
from django.core.cache import cache
from django.utils.module_loading import import_string

from moderation.models import Category, PolicyRule, PublicFigure
from moderation.normalise import Normalised, normalise, normalise_pattern

BLOCK = PolicyRule.Severity.BLOCK
REVIEW = PolicyRule.Severity.REVIEW
RULES_CACHE_KEY = "moderation:policy-rules:v1"


@dataclass(frozen=True)
class Context:
    teen: bool = False
    real_person: bool = False


@dataclass(frozen=True)
class Hit:
    category: str
    severity: str
    matched: str
    classifier: str
    rule_id: int | None = None
    # True when only the stricter policy (teen account, real person's cameo) made this a hit or a block.
    stricter: bool = False


class Classifier(Protocol):
    name: str

    def classify(self, texts: list[str], context: Context) -> list[Hit]: ...


# --- the rule engine ---------------------------------------------------------------------------


def load_rules() -> dict:
    """Enabled rules and public figures as plain data, from the cache (MODERATION_RULE_CACHE_SECONDS).

    Saving or deleting a rule or figure clears the cache (PolicyRule.save -> invalidate_rules);
    other processes see the change when their cache entry expires, or at once with a shared cache.
    """
    data = cache.get(RULES_CACHE_KEY)
    if data is None:
        data = {
            "rules": list(
                PolicyRule.objects.enabled().values(
                    "id", "category", "kind", "pattern", "severity", "applies_to"
                )
            ),
            "figures": [
                {"id": f.pk, "name": f.name, "names": f.names(), "account_id": f.account_id}
                for f in PublicFigure.objects.filter(enabled=True)
            ],
        }
        cache.set(RULES_CACHE_KEY, data, settings.MODERATION_RULE_CACHE_SECONDS)
    return data


def invalidate_rules() -> None:
    cache.delete(RULES_CACHE_KEY)


@lru_cache(maxsize=4096)
def compile_pattern(kind: str, pattern: str) -> tuple[re.Pattern | None, str]:
    """(regex over a normalised reading, the compact form to look for in spaced-out words)."""
    if kind == PolicyRule.Kind.REGEX:
        try:
            return re.compile(pattern), ""
        except re.error:
            return None, ""
    wildcard = kind == PolicyRule.Kind.WORD and pattern.endswith("*")
    words = normalise_pattern(pattern.rstrip("*"))
    if not words:
        return None, ""
    body = r"\s+".join(re.escape(word) for word in words.split())
    tail = r"\w*" if wildcard else ""
    return re.compile(rf"(?<!\w){body}{tail}(?!\w)"), words.replace(" ", "")


def find(kind: str, pattern: str, text: Normalised) -> str | None:
    """What of `text` the pattern matches, or None."""
    regex, compact = compile_pattern(kind, pattern)
    if regex is None:
        return None
    for reading in text.texts:
        if match := regex.search(reading):
            return match.group()
    # "k i l l y o u r s e l f" reads as one joined word: look for the phrase inside it. Short
    # patterns are left out, where a chance substring would be too likely.
    if kind != PolicyRule.Kind.REGEX and len(compact) >= 4:
        for word in text.joined:
            if compact in word:
                return compact
    return None


def applies(rule: dict, context: Context) -> bool:
    match rule["applies_to"]:
        case PolicyRule.AppliesTo.REAL_PERSON:
            return context.real_person
        case PolicyRule.AppliesTo.TEEN:
            return context.teen
    return True


class RuleClassifier:
    """The moderator-edited PolicyRule rows. A review rule blocks for teens and whenever a real
    person's cameo is in the request: those get the stricter policy."""

    name = "rules"

    def classify(self, texts: list[str], context: Context) -> list[Hit]:
        readings = [normalise(text) for text in texts if text]
        hits = []
        for rule in load_rules()["rules"]:
            if not applies(rule, context):
                continue
            for text in readings:
                matched = find(rule["kind"], rule["pattern"], text)
                if matched is not None:
                    severity = rule["severity"]
                    stricter = rule["applies_to"] != PolicyRule.AppliesTo.ALL
                    if severity == REVIEW and (context.teen or context.real_person):
                        severity, stricter = BLOCK, True
                    hits.append(
                        Hit(rule["category"], severity, matched[:200], self.name, rule["id"], stricter)
                    )
                    break
        return hits


class ProfanityClassifier:
    """alt-profanity-check's linear model as a harassment scorer.

    It scores insults and profanity, not intent, so alone it only flags a prompt for review; with a
    real person's cameo in the video it blocks (nothing degrading with a real likeness). The model
    (scikit-learn) loads on first use, never at import.
    """

    name = "profanity"

    def classify(self, texts: list[str], context: Context) -> list[Hit]:
        from profanity_check import predict_prob

        texts = [text for text in texts if text and text.strip()]
        if not texts:
            return []
        scores = predict_prob([*texts, *(normalise(text).plain for text in texts)])
        score = float(max(scores))
        if score < settings.MODERATION_PROFANITY_THRESHOLD:
            return []
        severity = BLOCK if context.real_person else REVIEW
        return [Hit(Category.HARASSMENT, severity, f"profanity score {score:.2f}", self.name, stricter=True)]


def configured_classifiers() -> tuple[Classifier, ...]:
    return _classifiers(tuple(settings.MODERATION_CLASSIFIERS))


@lru_cache(maxsize=8)
def _classifiers(paths: tuple[str, ...]) -> tuple[Classifier, ...]:
    return tuple(import_string(path)() for path in paths)
