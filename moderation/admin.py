"""The moderation queue and the policy, in the Django admin.

Moderators are staff accounts in the "Moderators" group (made by migration 0002), not
superusers. Cases (open reports grouped by target, with counts) are decided from the change page
(preview, reports, decision form) or in bulk from the list with an action, a reason and, for a
suspension, a number of days. Every decision and every rule change goes to the audit log, which
nobody can edit.
"""

from collections import Counter

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Count, Prefetch
from django.utils.html import format_html, format_html_join

from moderation import actions, targets
from moderation.models import (
    Case,
    Category,
    ModerationAction,
    ModerationNotice,
    PolicyDecision,
    PolicyRule,
    PublicFigure,
    Report,
    UserSanction,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that are written by the code only: viewable, never added, changed or deleted."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- the policy ----------------------------------------------------------------------------


@admin.register(PolicyRule)
class PolicyRuleAdmin(admin.ModelAdmin):
    list_display = ["pattern", "category", "kind", "severity", "applies_to", "enabled", "updated"]
    list_filter = ["category", "severity", "applies_to", "kind", "enabled"]
    search_fields = ["pattern", "note"]
    readonly_fields = ["created", "updated"]
    actions = ["enable", "disable"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # Rules about minors are never removed (the database also keeps them blocking).
        if obj is not None and obj.category == Category.MINORS:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        verb = "Changed" if change else "Added"
        actions.record_action(
            request.user, ModerationAction.Action.CHANGE_RULE, target=obj, reason=f"{verb} in the admin"
        )

    def delete_model(self, request, obj) -> None:
        actions.record_action(
            request.user, ModerationAction.Action.DELETE_RULE, target=obj, reason="Deleted in the admin"
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for rule in queryset.exclude(category=Category.MINORS):
            self.delete_model(request, rule)

    @admin.action(description="Enable the selected rules", permissions=["change"])
    def enable(self, request, queryset) -> None:
        for rule in queryset.filter(enabled=False):
            rule.enabled = True
            self.save_model(request, rule, None, True)

    @admin.action(description="Disable the selected rules (not rules about minors)", permissions=["change"])
    def disable(self, request, queryset) -> None:
        for rule in queryset.filter(enabled=True).exclude(category=Category.MINORS):
            rule.enabled = False
            self.save_model(request, rule, None, True)


@admin.register(PublicFigure)
class PublicFigureAdmin(admin.ModelAdmin):
    list_display = ["name", "aliases", "account", "enabled"]
    list_filter = ["enabled"]
    search_fields = ["name", "aliases"]
    raw_id_fields = ["account"]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        reason = f"Public figure {'changed' if change else 'added'} in the admin"
        actions.record_action(request.user, ModerationAction.Action.CHANGE_RULE, target=obj, reason=reason)

    def delete_model(self, request, obj) -> None:
        actions.record_action(
            request.user, ModerationAction.Action.DELETE_RULE, target=obj, reason="Public figure deleted"
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for figure in queryset:
            self.delete_model(request, figure)


@admin.register(PolicyDecision)
class PolicyDecisionAdmin(ReadOnlyAdmin):
    list_display = ["created", "owner", "outcome", "category", "matched", "classifier", "teen", "real_person"]
    list_filter = ["outcome", "category", "source", "classifier", "teen", "real_person"]
    search_fields = ["owner__handle", "text", "matched"]
    list_select_related = ["owner"]
    date_hierarchy = "created"


# --- the queue -----------------------------------------------------------------------------


class DecisionActionForm(ActionForm):
    """The list's action bar: a reason (required for every decision) and a suspension length."""

    reason = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"placeholder": "Reason (shown to the user)"})
    )
    days = forms.IntegerField(
        required=False, min_value=1, max_value=3650, widget=forms.NumberInput(attrs={"placeholder": "Days"})
    )


class CaseDecisionForm(forms.ModelForm):
    """The decision on one open case; the admin carries it out with actions.resolve_case."""

    decision = forms.ChoiceField(choices=[])
    sanction = forms.ChoiceField(
        required=False,
        choices=[("", "No sanction"), *((o.value, o.label) for o in actions.ACCOUNT_OUTCOMES_ORDERED)],
        help_text="Also sanction the owner (with a content decision).",
    )
    days = forms.IntegerField(
        required=False, min_value=1, max_value=3650, help_text="Length of a suspension."
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="Shown to the affected person."
    )

    class Meta:
        model = Case
        fields: list[str] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        kind = self.instance.target_type.model if self.instance.pk else ""
        self.fields["decision"].choices = [(o, Case.Outcome(o).label) for o in targets.outcomes_for(kind)]

    def clean(self) -> dict:
        data = super().clean()
        decision, sanction = data.get("decision"), data.get("sanction")
        content = decision not in actions.ACCOUNT_OUTCOMES and decision != Case.Outcome.DISMISS
        if content and self.instance.target is None:
            raise forms.ValidationError(
                "The reported content is already gone: dismiss, or sanction its owner."
            )
        if (sanction or decision in actions.ACCOUNT_OUTCOMES) and self.instance.target_owner_id is None:
            raise forms.ValidationError("The account this case is about no longer exists.")
        return data


class QueueFilter(admin.SimpleListFilter):
    """Status, showing the open cases (the queue) until another choice is made."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [(Case.Status.OPEN, "Open"), (Case.Status.RESOLVED, "Resolved"), ("all", "All")]

    def choices(self, changelist):
        current = self.value() or Case.Status.OPEN
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value() or Case.Status.OPEN
        return queryset if value == "all" else queryset.filter(status=value)


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["target_repr", "kind", "report_count", "reasons", "status", "outcome", "last_reported"]
    list_filter = [QueueFilter, "outcome", "target_type"]
    search_fields = ["target_repr", "target_owner__handle", "snapshot"]
    list_select_related = ["target_type"]
    action_form = DecisionActionForm
    actions = [
        "hide_post", "delete_post", "mark_mature", "delete_comment", "revoke_cameo", "warn", "suspend", "ban",
        "dismiss",
    ]  # fmt: skip
    readonly_fields = [
        "target_repr", "kind", "target_owner", "status", "outcome", "resolution", "resolved_by", "resolved",
        "preview", "report_list", "history",
    ]  # fmt: skip

    def get_queryset(self, request):
        # The reasons column reads the prefetched reports: the list costs the same for any page size.
        reports = Prefetch("reports", queryset=Report.objects.only("id", "case_id", "reason"))
        return super().get_queryset(request).annotate(report_count=Count("reports")).prefetch_related(reports)

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["target_repr", "kind", "target_owner", "preview", "report_list", "history"]}),
            ("Outcome", {"fields": ["status", "outcome", "resolution", "resolved_by", "resolved"]}),
        ]
        if obj is not None and obj.status == Case.Status.OPEN and self.has_change_permission(request, obj):
            fieldsets.insert(1, ("Decision", {"fields": ["decision", "sanction", "days", "reason"]}))
        return fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and obj.status == Case.Status.OPEN:
            kwargs["form"] = CaseDecisionForm
        return super().get_form(request, obj, change, **kwargs)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        if "decision" not in data:
            return
        try:
            actions.resolve_case(
                obj, request.user, data["decision"], data["reason"], sanction=data.get("sanction") or None,
                days=data.get("days"),
            )  # fmt: skip
        except (targets.OutcomeUnavailable, actions.CaseClosed) as exc:
            messages.error(request, str(exc))

    # --- columns and previews

    @admin.display(description="Kind")
    def kind(self, case: Case) -> str:
        return case.target_type.model

    @admin.display(description="Reports", ordering="report_count")
    def report_count(self, case: Case) -> int:
        return case.report_count

    @admin.display(description="Reasons")
    def reasons(self, case: Case) -> str:
        counts = Counter(report.reason for report in case.reports.all())
        return ", ".join(f"{reason} ×{n}" for reason, n in counts.most_common())

    @admin.display(description="Preview")
    def preview(self, case: Case) -> str:
        media = targets.preview(case.target)
        parts = []
        if media.get("video"):
            parts.append(
                format_html(
                    '<video src="{}" poster="{}" controls width="270"></video>',
                    media["video"],
                    media.get("poster", ""),
                )
            )
        elif media.get("poster"):
            parts.append(format_html('<img src="{}" alt="" width="270">', media["poster"]))
        if media.get("page"):
            parts.append(
                format_html(
                    '<p><a href="{}" target="_blank" rel="noopener">Open on the site</a></p>', media["page"]
                )
            )
        elif case.target is None:
            parts.append(format_html("<p>{}</p>", "The reported content no longer exists."))
        parts.append(format_html('<pre style="white-space: pre-wrap">{}</pre>', case.snapshot))
        return format_html_join("", "{}", ((part,) for part in parts))

    @admin.display(description="Reports")
    def report_list(self, case: Case) -> str:
        rows = Report.objects.filter(case=case).select_related("reporter").order_by("created")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><strong>{}</strong> by {} on {}: {}</li>",
                (
                    (
                        r.get_reason_display(),
                        r.reporter or "an erased account",
                        f"{r.created:%Y-%m-%d %H:%M}",
                        r.note or "(no note)",
                    )  # fmt: skip
                    for r in rows
                ),
            ),
        )

    @admin.display(description="Earlier decisions about this account")
    def history(self, case: Case) -> str:
        if case.target_owner_id is None:
            return "—"
        entries = ModerationAction.objects.filter(affected_user=case.target_owner_id).order_by("-created")[
            :10
        ]
        if not entries:
            return "None."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{}: {} by {}: {}</li>",
                (
                    (f"{e.created:%Y-%m-%d}", e.get_action_display(), e.moderator_repr, e.reason)
                    for e in entries
                ),
            ),
        )

    # --- bulk decisions from the list

    def decide(self, request, queryset, outcome: str) -> None:
        reason = request.POST.get("reason", "").strip()
        days = request.POST.get("days", "").strip()
        if not reason:
            self.message_user(request, "Write a reason in the action bar first.", messages.ERROR)
            return
        if days and not (days.isdigit() and 1 <= int(days) <= 3650):
            self.message_user(request, "Days must be a whole number from 1 to 3650.", messages.ERROR)
            return
        done, failed = 0, []
        for case in queryset.filter(status=Case.Status.OPEN):
            try:
                actions.resolve_case(case, request.user, outcome, reason, days=int(days) if days else None)
                done += 1
            except (targets.OutcomeUnavailable, actions.CaseClosed) as exc:
                failed.append(f"{case.target_repr}: {exc}")
        if done:
            self.message_user(
                request, f"{Case.Outcome(outcome).label}: {done} case(s) resolved.", messages.SUCCESS
            )
        for failure in failed:
            self.message_user(request, failure, messages.WARNING)

    @admin.action(description="Hide the post", permissions=["change"])
    def hide_post(self, request, queryset) -> None:
        self.decide(request, queryset, Case.Outcome.HIDE_POST)

    @admin.action(description="Delete the post", permissions=["change"])
    def delete_post(self, request, queryset) -> None:
        self.decide(request, queryset, Case.Outcome.DELETE_POST)

    @admin.action(description="Mark the post mature", permissions=["change"])
    def mark_mature(self, request, queryset) -> None:
        self.decide(request, queryset, Case.Outcome.MARK_MATURE)

    @admin.action(description="Delete the comment", permissions=["change"])
    def delete_comment(self, request, queryset) -> None:
        self.decide(request, queryset, Case.Outcome.DELETE_COMMENT)

    @admin.action(description="Revoke the cameo", permissions=["change"])
    def revoke_cameo(self, request, queryset) -> None:
        self.decide(request, queryset, Case.Outcome.REVOKE_CAMEO)

    @admin.action(description="Warn the owner", permissions=["change"])
    def warn(self, request, queryset) -> None:
        self.decide(request, queryset, Case.Outcome.WARN)

    @admin.action(description="Suspend the owner (days in the action bar)", permissions=["change"])
    def suspend(self, request, queryset) -> None:
        self.decide(request, queryset, Case.Outcome.SUSPEND)

    @admin.action(description="Ban the owner", permissions=["change"])
    def ban(self, request, queryset) -> None:
        self.decide(request, queryset, Case.Outcome.BAN)

    @admin.action(description="Dismiss: no rule broken", permissions=["change"])
    def dismiss(self, request, queryset) -> None:
        self.decide(request, queryset, Case.Outcome.DISMISS)


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["created", "reason", "case", "reporter"]
    list_filter = ["reason"]
    search_fields = ["note", "case__target_repr", "reporter__handle"]
    list_select_related = ["case", "reporter"]
    date_hierarchy = "created"


@admin.register(ModerationAction)
class ModerationActionAdmin(ReadOnlyAdmin):
    """The audit log: readable by moderators, changed by no one."""

    list_display = ["created", "moderator_repr", "action", "target_repr", "reason"]
    list_filter = ["action"]
    search_fields = ["moderator_repr", "target_repr", "reason"]
    date_hierarchy = "created"


class SanctionForm(forms.ModelForm):
    days = forms.IntegerField(required=False, min_value=1, max_value=3650, help_text="For a suspension.")

    class Meta:
        model = UserSanction
        fields = ["user", "kind", "reason"]


@admin.register(UserSanction)
class UserSanctionAdmin(admin.ModelAdmin):
    """Sanctions in force and past; adding one here warns, suspends or bans straight away."""

    list_display = ["user", "kind", "until", "lifted", "created", "created_by"]
    list_filter = ["kind"]
    search_fields = ["user__handle", "reason"]
    list_select_related = ["user", "created_by"]
    raw_id_fields = ["user"]
    actions = ["lift"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = SanctionForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ["user", "kind", "reason", "until", "created", "created_by", "lifted"]
        return []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        if change:
            return
        data = form.cleaned_data
        try:
            sanction = actions.apply_sanction(
                data["kind"], data["user"], request.user, data["reason"], days=data.get("days")
            )
        except targets.OutcomeUnavailable as exc:
            messages.error(request, str(exc))
            return
        # The admin goes on with `obj` (log entry, redirect): make it the row just written.
        obj.__dict__.update(
            {f.attname: getattr(sanction, f.attname) for f in UserSanction._meta.concrete_fields}
        )
        obj._state.adding = False

    @admin.action(description="Lift suspensions and bans of these users", permissions=["change"])
    def lift(self, request, queryset) -> None:
        for user in {sanction.user for sanction in queryset.select_related("user")}:
            actions.lift_sanctions(user, request.user, "Lifted by a moderator.")
        self.message_user(request, "Lifted.", messages.SUCCESS)


@admin.register(ModerationNotice)
class ModerationNoticeAdmin(ReadOnlyAdmin):
    list_display = ["created", "recipient", "text", "read"]
    search_fields = ["recipient__handle", "text"]
    list_select_related = ["recipient"]
