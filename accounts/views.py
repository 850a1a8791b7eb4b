from allauth.account import views as allauth_views
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.forms import ProfileForm
from accounts.models import Invite


def invite_link(request: HttpRequest, code: str) -> HttpResponse:
    """`/invite/<code>`: the signup page with the code filled in."""
    if request.user.is_authenticated:
        messages.info(request, "You already have an account.")
        return redirect("feed:home")
    return redirect(f"{reverse('account_signup')}?invite={code}")


@login_required
def my_invites(request: HttpRequest) -> HttpResponse:
    invites = Invite.objects.filter(created_by=request.user).select_related("used_by").order_by("-created")
    return render(request, "accounts/invites.html", {"invites": invites})


@login_required
def edit_profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, request.FILES or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("accounts:edit_profile")
    status = 400 if form.errors else 200
    return render(request, "accounts/edit_profile.html", {"form": form}, status=status)


class SignupView(allauth_views.SignupView):
    """allauth's signup page, with the code from an `/invite/<code>` link filled in."""

    def get_initial(self):
        initial = super().get_initial()
        if code := self.request.GET.get("invite", "").strip()[:32]:
            initial["invite_code"] = code
        return initial


signup = SignupView.as_view()
