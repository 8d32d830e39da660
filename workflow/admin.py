"""The Django admin for revenue operations (ops) and superusers.

What ops may do here (the ops group's permissions, granted by `accord_user --side ops`):
view every model; edit cycles (settings and tier capacities, saved by
workflow.services.cycle_update, which keeps who changed what in the cycle's history) and, in
accounts_app, accounts, contacts and draft ideal customer profiles; import and export
accounts. Everything the agreement workflow writes — nominations, sign-offs, comments, events,
target accounts, list versions — is read-only here for everybody, superusers included: it can
only change through the workflow's services, which the actions below call (publish a list
version, open or close a cycle — reopening a closed one asks for the reason —, send the due
reminders). Deciding on or withdrawing a nomination is not an ops action: approvers decide and
proposers withdraw, on the site.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join

from accounts_app.models import BuyingRole
from core.admin import ServiceErrorsMixin, ViewOnlyInline, ViewOnlyMixin, run_for_each
from core.errors import DomainError
from core.roles import OPS_GROUP, SIDE_GROUPS, SIGN_OFF_PERMISSION, is_ops, require_ops
from core.text import single_line
from workflow import services
from workflow.models import (
    OPEN_STATES,
    Comment,
    Cycle,
    CycleEvent,
    CycleState,
    FailedNotification,
    ListVersion,
    Nomination,
    NominationEvent,
    SignOff,
    TargetAccount,
    Tier,
)
from workflow.selectors import seats_taken

User = get_user_model()

admin.site.site_header = "Accord administration"
admin.site.site_title = "Accord admin"
admin.site.index_title = "Revenue operations"


def site_url(name: str, *args) -> str | None:
    """The address of a page of the site, for the admin's "View on site" links."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


# --- Cycles and tiers ---------------------------------------------------------------------------


class TierForm(forms.ModelForm):
    required_roles = forms.MultipleChoiceField(
        choices=BuyingRole.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Buying roles each account of this tier should have a contact in.",
    )

    class Meta:
        model = Tier
        fields = ("capacity", "required_roles")

    def clean_capacity(self):
        # The rule's home is the service (which checks it again under the cycle's lock); asked
        # here too so that the refusal stands next to the field rather than above the page.
        capacity = self.cleaned_data["capacity"]
        tier = self.instance
        if tier.pk is not None and capacity is not None:
            try:
                services.tier_capacity_check(
                    cycle=tier.cycle, number=tier.number, capacity=capacity
                )
            except DomainError as error:
                raise forms.ValidationError(error.message) from None
        return capacity


def tier_settings(forms_) -> dict[int, dict]:
    """{number: {capacity, required_roles}} from valid tier forms, for services.cycle_update."""
    return {
        form.instance.number: {
            "capacity": form.cleaned_data["capacity"],
            "required_roles": form.cleaned_data["required_roles"],
        }
        for form in forms_
        if form.instance.pk is not None and getattr(form, "cleaned_data", None)
    }


class TierInline(admin.TabularInline):
    """A cycle's three tiers, created with the cycle: capacity and required roles only."""

    model = Tier
    form = TierForm
    fields = ("number", "capacity", "on_the_list", "required_roles")
    readonly_fields = ("number", "on_the_list")
    extra = 0
    max_num = 3
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="On the list now")
    def on_the_list(self, tier):
        return seats_taken([tier.cycle_id]).get((tier.cycle_id, tier.number), 0)


class CycleForm(forms.ModelForm):
    def clean_name(self):
        # The name reaches e-mail subjects and file names (see core.text).
        try:
            return single_line(self.cleaned_data["name"], what="The cycle's name")
        except DomainError as error:
            raise forms.ValidationError(error.message) from None


class CycleAddForm(CycleForm):
    """A new cycle and the capacities of its three tiers, saved by services.cycle_create."""

    tier_1_capacity = forms.IntegerField(min_value=0, label="Tier 1 capacity", initial=50)
    tier_2_capacity = forms.IntegerField(min_value=0, label="Tier 2 capacity", initial=100)
    tier_3_capacity = forms.IntegerField(min_value=0, label="Tier 3 capacity", initial=200)

    class Meta:
        model = Cycle
        fields = (
            "name",
            "starts_on",
            "ends_on",
            "marketing_quorum",
            "sales_quorum",
            "proposer_counts",
            "reminder_after_hours",
            "escalate_after_hours",
        )


class ReopenForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        label="Reason",
        help_text="Kept in each cycle's history, with your name.",
    )


@admin.register(Cycle)
class CycleAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = CycleForm
    list_display = (
        "name",
        "starts_on",
        "ends_on",
        "state",
        "capacities",
        "on_the_list",
        "open_nominations",
    )
    list_filter = ("state",)
    search_fields = ("name",)
    date_hierarchy = "starts_on"
    readonly_fields = ("state", "created_at")
    actions = ("publish_list_version", "activate", "close")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("tiers")
            .annotate(
                _on_the_list=Count(
                    "targets", filter=Q(targets__removed_at__isnull=True), distinct=True
                ),
                _open=Count(
                    "nominations",
                    filter=Q(nominations__state__in=[s.value for s in OPEN_STATES]),
                    distinct=True,
                ),
            )
        )

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = CycleAddForm
        return super().get_form(request, obj, **kwargs)

    def get_inlines(self, request, obj):
        # A new cycle gets its three tiers from the capacities on the add form.
        return [TierInline, CycleEventInline] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            return  # saved with its tiers by save_related, in one call of the service
        data = form.cleaned_data
        cycle = services.cycle_create(
            by=request.user,
            capacities={n: data[f"tier_{n}_capacity"] for n in (1, 2, 3)},
            **{name: data[name] for name in CycleAddForm.Meta.fields},
        )
        obj.pk, obj.created_at = cycle.pk, cycle.created_at  # its state is the default already

    def save_related(self, request, form, formsets, change):
        if not change:
            return  # the tiers were made by cycle_create
        tiers = {}
        for formset in formsets:
            if formset.model is Tier:
                tiers.update(tier_settings(formset.forms))
            # What formset.save() would have set, for the admin's own change message.
            formset.new_objects, formset.deleted_objects = [], []
            formset.changed_objects = [
                (f.instance, f.changed_data) for f in formset.forms if f.has_changed()
            ]
        services.cycle_update(
            cycle=form.instance,
            by=request.user,
            tiers=tiers,
            **{
                name: form.cleaned_data[name]
                for name in services.CYCLE_SETTINGS
                if name in form.cleaned_data
            },
        )

    def view_on_site(self, obj):
        return site_url("workflow:cycle", obj.pk)

    @admin.display(description="Capacity (tiers 1 / 2 / 3)")
    def capacities(self, cycle):
        return " / ".join(str(t.capacity) for t in cycle.tiers.all())

    @admin.display(description="On the list", ordering="_on_the_list")
    def on_the_list(self, cycle):
        return cycle._on_the_list

    @admin.display(description="Open nominations", ordering="_open")
    def open_nominations(self, cycle):
        return cycle._open

    @admin.action(description="Publish a list version of the selected cycles")
    def publish_list_version(self, request, queryset):
        run_for_each(
            request,
            queryset,
            lambda cycle: services.list_version_publish(
                cycle=cycle, by=request.user, note="Published from the admin."
            ),
            lambda cycle, version: (
                f"Published {cycle.name} version {version.number} "
                f"({len(version.entries)} accounts)."
            ),
        )

    def _set_state(self, request, queryset, state, reason=""):
        run_for_each(
            request,
            queryset,
            lambda cycle: services.cycle_set_state(
                cycle=cycle, state=state, by=request.user, reason=reason
            ),
            lambda cycle, _: f"{cycle.name} is now {CycleState(state).label.lower()}.",
        )

    @admin.action(
        description="Open the selected cycles (active); a closed one reopens, with a reason",
        permissions=["change"],
    )
    def activate(self, request, queryset):
        """A closed cycle reopens only with a reason (workflow.services.cycle_set_state), so
        when the selection holds one, an intermediate page asks for it first."""
        if not queryset.filter(state=CycleState.CLOSED).exists():
            self._set_state(request, queryset, CycleState.ACTIVE)
            return None
        form = ReopenForm(request.POST if "reopen" in request.POST else None)
        if form.is_valid():
            self._set_state(request, queryset, CycleState.ACTIVE, form.cleaned_data["reason"])
            return None
        return TemplateResponse(
            request,
            "admin/workflow/cycle/reopen.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Why do these cycles reopen?",
                "cycles": queryset,
                "form": form,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Close the selected cycles", permissions=["change"])
    def close(self, request, queryset):
        self._set_state(request, queryset, CycleState.CLOSED)


@admin.register(Tier)
class TierAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = TierForm
    list_display = ("cycle", "number", "capacity")
    list_filter = ("cycle", "number")
    list_select_related = ("cycle",)
    readonly_fields = ("cycle", "number")
    fields = ("cycle", "number", "capacity", "required_roles")

    def has_add_permission(self, request):
        return False  # tiers come with their cycle

    def save_model(self, request, obj, form, change):
        services.cycle_update(cycle=obj.cycle, by=request.user, tiers=tier_settings([form]))

    def has_delete_permission(self, request, obj=None):
        return False


# --- Nominations and their audit trail ----------------------------------------------------------


class SignOffInline(ViewOnlyInline):
    model = SignOff
    fields = ("round", "person", "side", "decision", "by_submission", "note", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("person")


class CommentInline(ViewOnlyInline):
    model = Comment
    fields = ("created_at", "author", "author_side", "body", "mentioned")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author").prefetch_related("mentions")

    @admin.display(description="Mentions")
    def mentioned(self, comment):
        return ", ".join(u.username for u in comment.mentions.all())


class NominationEventInline(ViewOnlyInline):
    model = NominationEvent
    verbose_name_plural = "Timeline (append-only audit trail)"
    fields = (
        "created_at",
        "action",
        "from_state",
        "to_state",
        "round",
        "actor",
        "actor_side",
        "note",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Nomination)
class NominationAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "account",
        "cycle",
        "kind",
        "tier",
        "state",
        "proposer",
        "proposer_side",
        "round",
        "waiting_since",
        "created_at",
    )
    list_display_links = ("id", "account")
    list_filter = ("cycle", "state", "kind", "tier", "proposer_side")
    search_fields = ("account__name", "account__domain", "proposer__username", "rationale")
    date_hierarchy = "created_at"
    list_select_related = ("account", "cycle", "proposer")
    inlines = (SignOffInline, CommentInline, NominationEventInline)
    fields = (
        "cycle",
        "account",
        "kind",
        "tier",
        "state",
        "round",
        "proposer",
        "proposer_side",
        "rationale",
        "evidence_links",
        "fit_score_at_proposal",
        "created_at",
        "submitted_at",
        "waiting_since",
        "reminded_at",
        "escalated_at",
        "decided_at",
    )
    change_list_template = "admin/workflow/nomination/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "cycle", "proposer")

    def view_on_site(self, obj):
        return site_url("workflow:nomination", obj.pk)

    def get_urls(self):
        return [
            path(
                "send-reminders/",
                self.admin_site.admin_view(self.send_reminders_view),
                name="workflow_nomination_send_reminders",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_send_reminders": is_ops(request.user)}
        return super().changelist_view(request, extra_context)

    def send_reminders_view(self, request):
        """Run the hourly reminder task now (workflow.tasks.remind_waiting_nominations)."""
        from celery.result import EagerResult

        from workflow import tasks

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        back = reverse("admin:workflow_nomination_changelist")
        try:
            require_ops(request.user, "send reminders")
        except DomainError as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(back)
        result = tasks.remind_waiting_nominations.delay()
        if not isinstance(result, EagerResult):
            messages.success(request, "Reminders are being sent by a worker.")
        else:
            counts = result.get()
            if counts["reminded"] or counts["escalated"]:
                messages.success(
                    request,
                    f"Reminded the approvers of {counts['reminded']} nomination(s); escalated "
                    f"{counts['escalated']} to revenue operations.",
                )
            else:
                messages.info(request, "No nomination has waited long enough for a reminder.")
        return HttpResponseRedirect(back)


@admin.register(SignOff)
class SignOffAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = (
        "nomination",
        "round",
        "person",
        "side",
        "decision",
        "by_submission",
        "created_at",
    )
    list_filter = ("side", "decision", "by_submission", "nomination__cycle")
    search_fields = ("nomination__account__name", "person__username", "note")
    date_hierarchy = "created_at"
    list_select_related = ("nomination__account", "person")


@admin.register(Comment)
class CommentAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("nomination", "author", "author_side", "short_body", "created_at")
    list_filter = ("author_side", "nomination__cycle")
    search_fields = ("body", "author__username", "nomination__account__name")
    date_hierarchy = "created_at"
    list_select_related = ("nomination__account", "author")

    @admin.display(description="Comment")
    def short_body(self, comment):
        return comment.body if len(comment.body) <= 80 else comment.body[:79] + "…"


@admin.register(NominationEvent)
class NominationEventAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """The append-only audit trail: never added, changed or deleted here."""

    list_display = (
        "created_at",
        "nomination",
        "action",
        "from_state",
        "to_state",
        "round",
        "actor",
        "actor_side",
    )
    list_filter = ("action", "actor_side", "to_state", "nomination__cycle")
    search_fields = ("nomination__account__name", "actor__username", "note")
    date_hierarchy = "created_at"
    list_select_related = ("nomination__account", "actor")


# --- The agreed list ----------------------------------------------------------------------------


class OnTheListFilter(admin.SimpleListFilter):
    title = "on the list"
    parameter_name = "on_the_list"

    def lookups(self, request, model_admin):
        return (("yes", "On the list"), ("no", "Removed"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(removed_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(removed_at__isnull=False)
        return queryset


@admin.register(TargetAccount)
class TargetAccountAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = (
        "account",
        "cycle",
        "tier",
        "sales_owner",
        "marketing_owner",
        "added_at",
        "removed_at",
        "nomination",
        "last_nomination",
    )
    list_filter = (OnTheListFilter, "cycle", "tier")
    search_fields = ("account__name", "account__domain")
    date_hierarchy = "added_at"
    list_select_related = (
        "account",
        "cycle",
        "sales_owner",
        "marketing_owner",
        "nomination__account",
        "last_nomination__account",
    )


@admin.register(ListVersion)
class ListVersionAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("__str__", "cycle", "number", "accounts", "published_by", "published_at")
    list_filter = ("cycle",)
    search_fields = ("cycle__name", "note")
    date_hierarchy = "published_at"
    list_select_related = ("cycle", "published_by")
    fields = ("cycle", "number", "published_by", "published_at", "note", "entries_table")

    def view_on_site(self, obj):
        return site_url("workflow:version", obj.cycle_id, obj.number)

    @admin.display(description="Accounts")
    def accounts(self, version):
        return len(version.entries)

    @admin.display(description="Entries")
    def entries_table(self, version):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>Tier {}</td><td>#{}</td></tr>",
            (
                (e["account_name"], e["domain"], e["tier"], e["nomination_id"])
                for e in sorted(version.entries, key=lambda e: (e["tier"], e["account_name"]))
            ),
        )
        return format_html(
            "<table><thead><tr><th>Account</th><th>Domain</th><th>Tier</th>"
            "<th>Nomination</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )


# --- People -------------------------------------------------------------------------------------


class AccordUserChangeForm(UserChangeForm):
    """Refuses groups and permissions Accord cannot work with (workflow.services'
    person_role_check, the rule `accord_user` follows too)."""

    def clean(self):
        cleaned = super().clean()
        if "groups" not in self.fields:
            return cleaned
        groups = cleaned.get("groups")
        groups = list(groups) if groups is not None else []
        app_label, codename = SIGN_OFF_PERMISSION.split(".")
        permissions = cleaned.get("user_permissions")
        approver = any(
            p.codename == codename and p.content_type.app_label == app_label
            for p in (permissions.select_related("content_type") if permissions else [])
        ) or any(
            g.permissions.filter(codename=codename, content_type__app_label=app_label).exists()
            for g in groups
        )
        try:
            services.person_role_check(group_names=[g.name for g in groups], approver=approver)
        except DomainError as error:
            field = error.field if error.field in self.fields else None
            self.add_error(field, error.message)
        return cleaned


class PersonAddForm(forms.ModelForm):
    """Add a person: username, e-mail, side (or ops), approver, an optional password. Saved by
    workflow.services.person_set_role, the service `accord_user` calls, with its rules."""

    side = forms.ChoiceField(
        choices=[
            ("marketing", "Marketing"),
            ("sales", "Sales"),
            (OPS_GROUP, "Revenue operations (ops: admin access, no sign-off)"),
        ],
        label="Side or role",
    )
    approver = forms.BooleanField(
        required=False, help_text="May sign off nominations and profiles for their side."
    )
    password1 = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Leave both empty: they cannot sign in until a password is set.",
    )
    password2 = forms.CharField(
        label="Password again",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = User
        fields = ("username", "email", "first_name", "last_name")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True  # notifications go there

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        elif cleaned.get("password1"):
            from django.contrib.auth.password_validation import validate_password
            from django.core.exceptions import ValidationError

            try:
                validate_password(cleaned["password1"], User(username=cleaned.get("username")))
            except ValidationError as error:
                self.add_error("password1", error)
        if cleaned.get("side"):
            try:
                services.person_role_check(
                    group_names=[cleaned["side"]], approver=cleaned.get("approver", False)
                )
            except DomainError as error:
                self.add_error("approver", error.message)
        return cleaned


admin.site.unregister(User)


@admin.register(User)
class AccordUserAdmin(UserAdmin):
    form = AccordUserChangeForm
    add_form = PersonAddForm
    add_form_template = "admin/change_form.html"
    add_fieldsets = (
        (
            None,
            {
                "fields": (
                    "username",
                    "email",
                    "first_name",
                    "last_name",
                    "side",
                    "approver",
                    "password1",
                    "password2",
                )
            },
        ),
    )
    list_display = (
        "username",
        "email",
        "first_name",
        "last_name",
        "role",
        "approver",
        "is_staff",
        "is_active",
        "last_login",
    )
    list_filter = ("groups", "is_staff", "is_superuser", "is_active")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups", "user_permissions")

    def add_view(self, request, form_url="", extra_context=None):
        # Django's UserAdmin lets only those who may change users add one, since its add form
        # leads on to the change form (superuser status, any group, any permission). This add
        # form sets nothing person_set_role does not check, so adding needs only "add user":
        # revenue operations have it (OPS_EXTRA_PERMISSIONS), not "change user".
        return admin.ModelAdmin.add_view(self, request, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = form.cleaned_data
        user, _ = services.person_set_role(
            username=data["username"],
            role=data["side"],
            approver=data["approver"],
            email=data["email"],
            password=data["password1"] or None,
            first_name=data["first_name"],
            last_name=data["last_name"],
        )
        # The admin goes on with `obj` (its log entry, the redirect): make it the saved person.
        obj.pk = user.pk
        obj.refresh_from_db()

    @admin.display(description="Side or role")
    def role(self, user):
        names = {g.name for g in user.groups.all()}
        roles = [name for name in (*SIDE_GROUPS, OPS_GROUP) if name in names]
        return " + ".join(roles) or "—"

    @admin.display(description="Approver", boolean=True)
    def approver(self, user):
        codename = SIGN_OFF_PERMISSION.split(".")[1]
        return any(p.codename == codename for p in user.user_permissions.all())


@admin.register(FailedNotification)
class FailedNotificationAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """E-mails that could not be sent: what, to do with what, the error; ops retry them."""

    list_display = ("description", "failed_at", "error_summary", "retried_at", "retried_by")
    list_filter = ("task_name", ("retried_at", admin.EmptyFieldListFilter))
    search_fields = ("description", "error")
    date_hierarchy = "failed_at"
    list_select_related = ("retried_by",)
    actions = ["retry"]

    @admin.display(description="Error")
    def error_summary(self, obj) -> str:
        return obj.error if len(obj.error) <= 120 else obj.error[:119] + "…"

    def has_retry_permission(self, request) -> bool:
        return is_ops(request.user)

    @admin.action(description="Send the selected e-mails again", permissions=["retry"])
    def retry(self, request, queryset):
        def one(failed):
            if not services.notification_retry(failed=failed, by=request.user):
                raise DomainError("it was already sent again.")

        run_for_each(request, queryset, one, lambda failed, _: f"{failed}: queued again.")


@admin.display(description="Changed")
def what_changed(event) -> str:
    return services.cycle_changes_text(event.changes) or "—"


class CycleEventInline(ViewOnlyInline):
    model = CycleEvent
    fields = ("created_at", "actor", "action", "from_state", "to_state", "what_changed", "note")
    what_changed = staticmethod(what_changed)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(CycleEvent)
class CycleEventAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = (
        "cycle",
        "created_at",
        "actor",
        "action",
        "from_state",
        "to_state",
        what_changed,
    )
    list_filter = ("action",)
    search_fields = ("cycle__name", "actor__username", "note")
    list_select_related = ("cycle", "actor")
