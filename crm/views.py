"""The sync page (runs with live progress, dead letters, "Push now" / "Pull now") and the
inbound HubSpot webhook. Thin: reads through crm.selectors, changes only through the push's
and the pull's services; a service's DomainError is shown on the page with its status.

Who sees what: revenue operations run the sync (the buttons); people on either side may look
(the same page, read-only), since whether the agreed list reached the CRM is shared truth.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.ids import parse_id
from core.roles import is_ops
from core.web import member_required
from crm import selectors, services, webhooks
from crm.adapters import ConfigurationError, backend_name
from crm.models import FINISHED_SYNC_STATES, OutboxEntry, OutboxState, SyncKind, SyncRun
from crm.pull import services as pull_services

RUNS_PER_PAGE = 25
ERRORS_PER_PAGE = 50
RECORDS_PER_PAGE = 50
DEAD_LETTERS_SHOWN = 50
STATE_CLASSES = {
    "queued": "text-bg-secondary",
    "running": "text-bg-primary",
    "succeeded": "text-bg-success",
    "partial": "text-bg-warning",
    "failed": "text-bg-danger",
}


def _backend() -> str:
    try:
        return backend_name()
    except ConfigurationError as error:
        return error.message


def _decorate(runs):
    for run in runs:
        run.state_class = STATE_CLASSES.get(run.state, "text-bg-secondary")
        run.skipped = (run.detail or {}).get("skipped", 0)
    return runs


def run_progress(run: SyncRun) -> dict:
    """What the page's script updates, for one run."""
    return {
        "id": run.pk,
        "kind": run.kind,
        "state": run.state,
        "state_label": run.get_state_display(),
        "state_class": STATE_CLASSES.get(run.state, "text-bg-secondary"),
        "finished": run.state in FINISHED_SYNC_STATES,
        "done": run.done,
        "total": run.total,
        "percent": run.percent,
        "sent": run.sent,
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "failed": run.failed,
        "skipped": (run.detail or {}).get("skipped", 0),
        "message": run.message,
    }


def _sync_page(request, *, status: int = 200, error: str = ""):
    kind = request.GET.get("kind", "")
    kind = kind if kind in SyncKind.values else ""
    page = Paginator(selectors.sync_runs(kind=kind or None), RUNS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    _decorate(page.object_list)
    dead = selectors.outbox_dead_letters()
    context = {
        "page": page,
        "kind": kind,
        "kinds": [(SyncKind.PUSH.value, "Pushes"), (SyncKind.PULL.value, "Pulls")],
        "backend": _backend(),
        "can_run": is_ops(request.user),
        "can_pull": pull_services.pull_backend_or_none() is not None,
        "outbox_counts": selectors.outbox_counts(),
        "dead_letters": list(dead.order_by("-enqueued_at", "-pk")[:DEAD_LETTERS_SHOWN]),
        "dead_letter_count": dead.count(),
        "error": error,
    }
    return render(request, "crm/sync.html", context, status=status)


@require_GET
@member_required
def sync(request):
    return _sync_page(request)


@require_GET
@member_required
def sync_run(request, pk: int):
    run = selectors.sync_runs().filter(pk=pk).first()
    if run is None:
        raise Http404("There is no such sync run.")
    _decorate([run])
    errors = Paginator(selectors.sync_run_errors(run), ERRORS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    retryable = (
        selectors.retryable_entries(run).count()
        if run.kind == SyncKind.PUSH and is_ops(request.user)
        else 0
    )
    records = Paginator(selectors.sync_run_records(run), RECORDS_PER_PAGE).get_page(
        request.GET.get("sent")
    )
    return render(
        request,
        "crm/sync_run.html",
        {
            "run": run,
            "records": records,
            "records_kept": settings.CRM_RUN_RECORDS_KEPT,
            "page": errors,
            "objects": (run.detail or {}).get("objects", {}),
            "can_run": is_ops(request.user),
            "retryable": retryable,
        },
    )


@require_GET
@member_required
def sync_progress(request):
    """`?id=1&id=2`: those runs' progress as JSON, for the page's script (at most 100)."""
    ids = [i for i in map(parse_id, request.GET.getlist("id")) if i is not None][:100]
    runs = SyncRun.objects.filter(pk__in=ids).order_by("-created_at", "-pk")
    return JsonResponse({"runs": [run_progress(run) for run in runs]})


def _act(request, call, success, *, then: str = ""):
    """Call a service for a button; on a refusal show the page again with its message and
    status."""
    try:
        result = call()
    except DomainError as error:
        return _sync_page(request, status=error.status, error=error.message)
    messages.success(request, success(result))
    return redirect(then or reverse("crm:sync"))


@require_POST
@member_required
def push_now(request):
    return _act(
        request,
        lambda: services.sync_run_request_push(by=request.user),
        lambda run: selectors.where_the_run_stands(
            run, "whatever the outbox holds goes to the CRM."
        ),
    )


@require_POST
@member_required
def pull_now(request):
    full = request.POST.get("full") == "1"
    return _act(
        request,
        lambda: pull_services.sync_run_request_pull(by=request.user, full=full),
        lambda run: selectors.where_the_run_stands(
            run, "everything is read again." if full else "what changed since the last one."
        ),
    )


@require_POST
@member_required
def outbox_retry(request, pk: int):
    entry = OutboxEntry.objects.filter(pk=pk, state=OutboxState.FAILED).first()
    if entry is None:
        raise Http404("That outbox entry is not a dead letter (any more).")
    return _act(
        request,
        lambda: services.outbox_retry(entries=[entry], by=request.user),
        lambda revived: f"{entry.account} is queued for the CRM again.",
    )


@require_POST
@member_required
def run_retry(request, pk: int):
    run = SyncRun.objects.filter(pk=pk).first()
    if run is None:
        raise Http404("There is no such sync run.")
    return _act(
        request,
        lambda: services.sync_run_retry(run=run, by=request.user),
        lambda revived: f"{revived} record(s) of run #{run.pk} queued for the CRM again.",
        then=reverse("crm:run", args=[run.pk]),
    )


# --- HubSpot's webhook --------------------------------------------------------------------------


@csrf_exempt  # the signature is the authentication: no session, no CSRF token, no API token
@login_not_required
@require_POST
def hubspot_webhook(request):
    secret = settings.HUBSPOT_CLIENT_SECRET
    if not secret:
        return JsonResponse(
            {
                "detail": "HubSpot webhooks are not set up here (HUBSPOT_CLIENT_SECRET is empty).",
                "code": "not_configured",
            },
            status=503,
        )
    refusal = webhooks.verify_hubspot(
        secret=secret,
        method=request.method,
        uri=settings.HUBSPOT_WEBHOOK_URL or request.build_absolute_uri(),
        body=request.body,
        headers=request.headers,
    )
    if refusal:
        response = JsonResponse({"detail": refusal, "code": "invalid_signature"}, status=401)
        response["WWW-Authenticate"] = 'HubSpot-Signature-v3 realm="crm webhook"'
        return response
    try:
        events = webhooks.parse_hubspot_events(request.body)
    except webhooks.MalformedEvents as error:
        return JsonResponse({"detail": str(error), "code": "invalid"}, status=400)
    received = webhooks.hubspot_events_receive(events=events)
    return JsonResponse(
        {
            "events": received.events,
            "repeated": received.repeated,
            "not_read": received.not_read,
            "objects_queued": received.objects_queued,
        }
    )
