"""Default prompt-policy rules and public figures, and the Moderators permission group.

Moderators edit the rules afterwards in the admin. Words and phrases are matched whole-word on
normalised text (see moderation/normalise.py); a trailing * matches any ending. Review rules
allow a prompt and flag it, except for teens and with a real person's cameo, where they block.
"""

from django.db import migrations

ALL, REAL, TEEN = "all", "real_person", "teen"
BLOCK, REVIEW = "block", "review"

MINOR_TERMS = (
    r"child|children|kid|kids|minor|minors|underage|under age|preteen|pre teen|toddler|infant|baby|"
    r"schoolgirl|schoolboy|school girl|school boy|little girl|little boy|young girl|young boy|"
    r"teen|teens|teenage|teenager|teenagers|(?:[1-9]|1[0-7]) ?(?:yo|y o|year old|years old|yr old)"
)
SEXUAL_TERMS = (
    r"sex|sexual|sexually|sexy|nude|nudes|naked|nsfw|porn|porno|pornographic|erotic|erotica|undress|"
    r"undressed|undressing|lingerie|topless|explicit|seductive|aroused|orgasm|fondle|fondling|molest|"
    r"molested|molesting|intercourse|genital|genitals|stripping|xxx|lewd|horny"
)

# (category, kind, pattern, severity, applies_to)
# fmt: off
RULES = [
    # Sexual content involving minors: always blocked, whoever asks.
    ("minors", "regex", rf"(?=.*\b(?:{MINOR_TERMS})\b)(?=.*\b(?:{SEXUAL_TERMS})\b)", BLOCK, ALL),
    *[("minors", "word", w, BLOCK, ALL) for w in [
        "loli", "lolicon", "shota", "shotacon", "jailbait", "pedo", "pedophile*", "paedophile*",
        "csam", "child porn", "underage sex", "preteen sex",
    ]],
    # Sexual content.
    *[("sexual", "word", w, BLOCK, ALL) for w in [
        "sex", "porn*", "nude", "nudes", "naked", "nsfw", "hentai", "xxx", "erotic*", "orgasm*",
        "masturbat*", "blowjob*", "handjob*", "genital*", "penis", "vagina", "intercourse", "boobs",
        "tits", "topless", "sexual*", "striptease", "strip tease", "onlyfans", "dildo*", "cum", "horny",
        "rape*", "raping", "rapist*", "revenge porn", "bdsm", "fetish*", "undress*", "lewd",
    ]],
    *[("sexual", "word", w, REVIEW, ALL) for w in [
        "sexy", "lingerie", "seductive*", "sensual*", "cleavage", "busty", "twerk*", "stripper*",
        "making out", "thong",
    ]],
    *[("sexual", "word", w, BLOCK, REAL) for w in [
        "shirtless", "bikini", "underwear", "in bed with", "making out",
    ]],
    # Graphic violence.
    *[("violence", "word", w, BLOCK, ALL) for w in [
        "gore", "gory", "decapitat*", "dismember*", "disembowel*", "behead*", "mutilat*", "eviscerat*",
        "torture*", "torturing", "entrails", "bloodbath", "blood bath", "massacre*", "mass shooting",
        "school shooting", "execution style", "shot in the head", "skull crushed", "brains splattered",
        "blown to pieces", "suicide bomber", "slit his throat", "slit her throat", "slits his throat",
        "slits her throat", "cut his throat", "cut her throat", "blood spatter*", "snuff film",
    ]],
    *[("violence", "word", w, REVIEW, ALL) for w in [
        "murder*", "corpse*", "dead body", "dead bodies", "stabbing", "stabbed", "strangl*",
        "gunshot wound*", "shot dead", "war crime*", "terrorist attack*", "bloody",
    ]],
    *[("violence", "word", w, BLOCK, REAL) for w in [
        "punch", "punches", "punched", "punching", "stab", "stabs", "killed", "killing", "kills",
        "kill him", "kill her", "kill them", "kill you", "gets killed", "blood", "bleeding", "injur*",
        "wounded", "gets shot", "is shot", "being shot", "shoots him", "shoots her", "shooting at",
        "at gunpoint", "gun to", "choke", "chokes", "choked", "choking", "hit by a car", "run over",
        "set on fire", "burning alive", "drowning", "drowned", "hanged", "dies", "dying", "dead",
        "death", "assault*", "attacked", "kidnap*", "tied up", "beaten", "beat up", "beats up",
        "beating up", "slap", "slaps", "slapped", "slapping",
    ]],
    ("violence", "regex", r"\b(?:gun|knife|machete|axe)s? (?:to|at|against) (?:his|her|their|my|your) (?:head|throat|neck)\b", BLOCK, ALL),
    # Self-harm.
    *[("self_harm", "word", w, BLOCK, ALL) for w in [
        "kill myself", "kill yourself", "kill himself", "kill herself", "kill themselves", "kys",
        "self harm", "selfharm", "cutting myself", "cutting herself", "cutting himself", "cut my wrists",
        "slit my wrists", "slit her wrists", "slit his wrists", "slitting wrists", "hang myself",
        "hanging himself", "hanging herself", "overdos*", "pro ana", "thinspo*", "starve myself",
        "end my life", "commit suicide", "commits suicide", "committing suicide",
    ]],
    *[("self_harm", "word", w, REVIEW, ALL) for w in ["suicide", "suicidal", "self injury"]],
    # Hate.
    *[("hate", "word", w, BLOCK, ALL) for w in [
        "nigger*", "nigga*", "faggot*", "fag", "fags", "kike*", "spic", "spics", "chinks", "gook*",
        "wetback*", "tranny", "trannies", "raghead*", "towelhead*", "sand nigger*", "heil hitler",
        "sieg heil", "white power", "gas the jews", "ethnic cleansing", "white genocide", "subhuman*",
        "untermensch", "race war", "kkk", "nazi salute",
    ]],
    ("hate", "regex", r"\b(?:kill|exterminate|gas|deport) all (?:the )?(?:jews|muslims|blacks|gays|immigrants|mexicans|arabs|asians|christians|trans people|women)\b", BLOCK, ALL),
    *[("hate", "word", w, REVIEW, ALL) for w in [
        "retard", "retards", "dyke*", "chink", "swastika*", "go back to your country", "master race",
    ]],
    # Harassment and degrading content (a real person's likeness gets the long list).
    *[("harassment", "word", w, BLOCK, ALL) for w in ["doxx*", "dox", "swatting", "deepfake*"]],
    *[("harassment", "word", w, REVIEW, ALL) for w in ["whore*", "slut*", "cunt*", "bitch*"]],
    *[("harassment", "word", w, BLOCK, REAL) for w in [
        "humiliat*", "degrad*", "vomit*", "puking", "pee", "peeing", "piss*", "poop*", "diaper*",
        "ugly", "fat", "loser", "stupid", "idiot*", "moron*", "dumb", "begging", "slave*", "spit on",
        "spat on", "spitting on", "mugshot", "arrested", "in jail", "in prison", "handcuff*", "drunk",
        "high on", "embarrass*", "mocked", "mocking",
    ]],
    # Not for teen accounts.
    *[("teen", "word", w, BLOCK, TEEN) for w in [
        "alcohol*", "beer*", "vodka", "whiskey", "whisky", "tequila", "drunk", "cigarette*", "cigar*",
        "vape", "vaping", "smoking", "weed", "marijuana", "cannabis", "cocaine", "heroin", "meth",
        "drugs", "gambling", "casino*", "bikini", "lingerie",
    ]],
]
# fmt: on

# (name, aliases)
PUBLIC_FIGURES = [
    ("Taylor Swift", ""), ("Donald Trump", ""), ("Joe Biden", ""), ("Barack Obama", "Obama"),
    ("Kamala Harris", ""), ("Elon Musk", ""), ("Mark Zuckerberg", "Zuckerberg"), ("Jeff Bezos", ""),
    ("Bill Gates", ""), ("Sam Altman", ""), ("Kim Kardashian", ""), ("Beyoncé", "Beyonce Knowles"),
    ("Rihanna", ""), ("Oprah Winfrey", "Oprah"), ("Keanu Reeves", ""), ("Tom Cruise", ""),
    ("Kanye West", ""), ("MrBeast", "Mr Beast"), ("Cristiano Ronaldo", ""), ("Lionel Messi", ""),
    ("Vladimir Putin", "Putin"), ("Xi Jinping", ""), ("Volodymyr Zelensky", "Zelensky, Zelenskyy"),
    ("Emmanuel Macron", ""), ("Narendra Modi", ""), ("King Charles", ""), ("Pope Francis", ""),
    ("Greta Thunberg", ""),
]  # fmt: skip

MODERATORS = "Moderators"
# app_label -> codename prefixes granted to moderators on that app's models.
MODERATOR_PERMS = {
    "moderation": ("add_", "change_", "delete_", "view_"),
    "feed": ("change_post", "view_post", "change_comment", "delete_comment", "view_comment"),
    "accounts": ("view_user",),
    "generation": ("view_generation",),
    "cameos": ("change_", "view_"),
}


def seed_rules(apps, schema_editor):
    PolicyRule = apps.get_model("moderation", "PolicyRule")
    PublicFigure = apps.get_model("moderation", "PublicFigure")
    seen = set()
    rows = []
    for category, kind, pattern, severity, applies_to in RULES:
        key = (category, kind, pattern, applies_to)
        if key not in seen:
            seen.add(key)
            rows.append(
                PolicyRule(
                    category=category, kind=kind, pattern=pattern, severity=severity, applies_to=applies_to
                )
            )
    PolicyRule.objects.bulk_create(rows, ignore_conflicts=True)
    PublicFigure.objects.bulk_create(
        [PublicFigure(name=name, aliases=aliases) for name, aliases in PUBLIC_FIGURES], ignore_conflicts=True
    )


def sync_moderators_group(apps, schema_editor):
    """Make the Moderators group with the permissions above, for the apps that exist now."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally made after all migrations; make them now so they can be granted.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=MODERATORS)
    for app_label, prefixes in MODERATOR_PERMS.items():
        for permission in Permission.objects.filter(content_type__app_label=app_label):
            if permission.codename.startswith(prefixes):
                group.permissions.add(permission)


def remove_seed(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=MODERATORS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("feed", "0001_initial"),
        ("generation", "0001_initial"),
        ("cameos", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed_rules, migrations.RunPython.noop),
        migrations.RunPython(sync_moderators_group, remove_seed),
    ]
