"""What accounts tells the apps above it (moderation) about sign-ins. accounts sits at the bottom
of the layers, so it can't call them; they connect receivers in their AppConfig.ready()."""

from django.dispatch import Signal

# Sent (user=) before an account signs in, before allauth checks that it is active: moderation
# lifts a suspension that has run out, so the login goes ahead.
login_attempted = Signal()

# Sent (user=) when an inactive account tries to sign in; a receiver returns the message that
# tells the person why (moderation: their suspension or ban), or "" when it has none.
inactive_login = Signal()
