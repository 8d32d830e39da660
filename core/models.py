"""Abstract models the apps share: append-only audit rows, and agreed definitions (versions
that take effect only when both sides sign them off, see core.agreements)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.roles import Side

# --- Append-only rows ---------------------------------------------------------------------------


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError(f"{self.model._meta.verbose_name_plural} are append-only: never updated.")

    def delete(self):
        raise TypeError(f"{self.model._meta.verbose_name_plural} are append-only: never deleted.")


class AppendOnlyModel(models.Model):
    """Rows written once and never changed, in Python (here) and, on PostgreSQL, by a trigger
    (`append_only_sql`, installed by each table's migration)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError(f"{self._meta.verbose_name_plural} are append-only: never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError(f"{self._meta.verbose_name_plural} are append-only: never deleted.")


def append_only_migration(table: str):
    """The migration operation that installs (and on the way back removes) the trigger, on
    PostgreSQL only; other databases rely on the Python guards above."""
    from django.db import migrations

    install, remove = append_only_sql(table)

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(install)

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(remove)

    return migrations.RunPython(forwards, backwards)


def append_only_sql(table: str) -> tuple[str, str]:
    """(install, remove) SQL of the PostgreSQL trigger that refuses UPDATE and DELETE."""
    install = f"""
CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{table} is append-only: %% refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {table}_append_only();
"""
    remove = f"""
DROP TRIGGER IF EXISTS {table}_append_only ON {table};
DROP FUNCTION IF EXISTS {table}_append_only();
"""
    return install, remove


# --- Agreed definitions -------------------------------------------------------------------------


class AgreementState(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    EFFECTIVE = "effective", "Effective"
    SUPERSEDED = "superseded", "Superseded"
    REJECTED = "rejected", "Rejected"


class AgreedVersion(ConcurrentTransitionMixin, models.Model):
    """A numbered version of a definition both sides must agree on (the ideal customer
    profile, the coverage metrics' settings). The transition graph is declared here, once;
    core.agreements calls the transitions under a row lock and writes an event for each.

        draft → in_review → effective → superseded
                in_review → rejected
    """

    number = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=200)
    state = FSMField(
        max_length=12, choices=AgreementState.choices, default=AgreementState.DRAFT, protected=True
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    effective_at = models.DateTimeField(null=True, blank=True)

    # What a person calls this kind of version, in messages ("profile", "definitions"), and the
    # name of a version drafted without one.
    noun = "version"
    a_noun = "a version"
    untitled = "v{number}"

    class Meta:
        abstract = True
        ordering = ["-number"]

    @staticmethod
    def one_effective(name: str) -> models.UniqueConstraint:
        """The database constraint every concrete version holds: at most one is effective."""
        return models.UniqueConstraint(
            fields=["state"], condition=Q(state=AgreementState.EFFECTIVE), name=name
        )

    @transition(field=state, source=AgreementState.DRAFT, target=AgreementState.IN_REVIEW)
    def submit(self):
        pass

    @transition(field=state, source=AgreementState.IN_REVIEW, target=AgreementState.REJECTED)
    def reject(self):
        pass

    @transition(field=state, source=AgreementState.IN_REVIEW, target=AgreementState.EFFECTIVE)
    def take_effect(self):
        pass

    @transition(field=state, source=AgreementState.EFFECTIVE, target=AgreementState.SUPERSEDED)
    def supersede(self):
        pass

    def after_effective(self) -> None:
        """Called inside the transaction that made this version effective: queue what follows
        from it (after commit; never slow work here)."""


class AgreedSignOff(models.Model):
    """One approver's decision on a version; the concrete model adds the version's foreign key
    with related_name="sign_offs" and a one-per-person constraint."""

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=10, choices=Side.choices)
    approve = models.BooleanField()
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.person} ({self.side}) {'approves' if self.approve else 'rejects'}"


class AgreementAction(models.TextChoices):
    CREATED = "created", "Drafted"
    SUBMITTED = "submitted", "Submitted for sign-off"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    TOOK_EFFECT = "took_effect", "Took effect (both sides agreed)"
    SUPERSEDED = "superseded", "Superseded by a newer version"


class AgreementEvent(AppendOnlyModel):
    """The append-only history of a version; the concrete model adds the version's foreign key
    with related_name="events"."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_side = models.CharField(max_length=10, choices=Side.choices, blank=True)
    action = models.CharField(max_length=20, choices=AgreementAction.choices)
    from_state = models.CharField(max_length=12, choices=AgreementState.choices, blank=True)
    to_state = models.CharField(max_length=12, choices=AgreementState.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        abstract = True
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.action} {self.from_state}→{self.to_state}"
