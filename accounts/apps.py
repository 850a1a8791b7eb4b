from allauth.account.apps import AccountConfig as AllauthAccountConfig
from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "People and invites"


class SignInConfig(AllauthAccountConfig):
    """allauth's own "account" app, named so the admin doesn't show two "Accounts" sections."""

    verbose_name = "Sign-in email addresses"
