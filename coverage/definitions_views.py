"""The definitions page: every version of the metric definitions' settings, each side's
sign-offs, and for approvers the decision (core.agreements, as for the ideal customer
profile). Ops draft and submit versions in the admin."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts_app.forms import IcpSignOffForm as SignOffForm
from core.agreement_views import agreement_rows
from core.errors import DomainError
from core.models import AgreementState
from core.roles import side_of
from core.web import member_required, show_domain_error
from coverage import definitions, services
from coverage.models import DefinitionsVersion


def _render(request, *, status=200, bound_for=None, form=None):
    versions = DefinitionsVersion.objects.select_related("proposed_by").prefetch_related(
        "sign_offs__person"
    )
    rows = agreement_rows(
        versions, viewer=request.user, form_class=SignOffForm, bound_form=form, bound_for=bound_for
    )
    for row in rows:
        row["settings"] = definitions.settings_rows(row["version"].settings)
    return render(
        request,
        "coverage/definitions.html",
        {"rows": rows, "my_side": side_of(request.user)},
        status=status,
    )


@member_required
def definitions_list(request):
    return _render(request)


@require_POST
@member_required
def definitions_sign_off(request, pk):
    version = get_object_or_404(DefinitionsVersion, pk=pk)
    form = SignOffForm(request.POST)
    if not form.is_valid():
        return _render(request, status=400, bound_for=version.pk, form=form)
    try:
        version = services.definitions_sign_off(
            version=version,
            by=request.user,
            approve=form.cleaned_data["decision"] == "approve",
            note=form.cleaned_data["note"],
        )
    except DomainError as error:
        show_domain_error(form, error)
        return _render(request, status=error.status, bound_for=version.pk, form=form)
    if version.state == AgreementState.EFFECTIVE:
        messages.success(
            request, f"Both sides agreed: {version} is effective from today's snapshots on."
        )
    elif version.state == AgreementState.REJECTED:
        messages.success(request, f"You rejected {version}.")
    else:
        messages.success(request, "Your approval is recorded. It waits for the other side.")
    return redirect("coverage_definitions:list")
