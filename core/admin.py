"""Admin helpers every app's admin uses: rows only services write (view-only), a service's
refusal shown as a message, and an admin action that calls a service per selected row."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from core.errors import DomainError


class ViewOnlyMixin:
    """Rows only services write: nobody adds, changes or deletes them in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ViewOnlyInline(ViewOnlyMixin, admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class ServiceErrorsMixin:
    """A service's DomainError raised while saving a form is shown as a message on the same
    page; the admin's transaction around the save is rolled back."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(request.get_full_path())


def run_for_each(request, queryset, action, success):
    """Call a service for each selected row; show each DomainError, count the successes."""
    done = 0
    for obj in queryset:
        try:
            result = action(obj)
        except DomainError as error:
            messages.error(request, f"{obj}: {error.message}")
        else:
            done += 1
            messages.success(request, success(obj, result))
    return done
