"""The REST API: one view per resource or action, each reading its input with a small
serializer, calling the service that the web form and the admin call too, and answering with
an output serializer. Who may do what is decided by the services (DomainError → 400/403/409,
see api.exceptions) and, for whole parts of the API, by api.permissions."""

from django.conf import settings
from django.utils.cache import parse_etags
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.reverse import reverse

from accounts_app import services as account_services
from accounts_app.domains import normalise_domain
from accounts_app.models import Account
from api import selectors
from api import services as api_services
from api.exceptions import PayloadTooLarge
from api.filters import AccountFilter, NominationFilter
from api.idempotency import HEADER as IDEMPOTENCY_HEADER
from api.idempotency import idempotent
from api.pagination import TargetAccountPagination
from api.permissions import (
    IsAuthenticated,
    IsMember,
    IsMemberOrIntegrationReadOnly,
    IsOps,
    is_service_account,
)
from api.serializers import (
    AccountCreateInput,
    AccountOutput,
    AccountUpdateInput,
    ActivityBatchInput,
    ActivityBatchOutput,
    CommentInput,
    CommentOutput,
    CycleCreateInput,
    CycleEventOutput,
    CycleOutput,
    CycleUpdateInput,
    DecisionInput,
    DecisionOutput,
    DecisionResultOutput,
    DiffOutput,
    DiffQuery,
    ErrorOutput,
    EventOutput,
    MeOutput,
    NominationCreateInput,
    NominationDetailOutput,
    NominationOutput,
    ResubmitInput,
    ServiceAccountCreatedOutput,
    ServiceAccountInput,
    ServiceAccountOutput,
    TargetAccountOutput,
    TargetAccountQuery,
    VersionDetailOutput,
    VersionOutput,
    WithdrawInput,
    target_account_representations,
)
from core.errors import Invalid
from core.roles import is_approver, is_ops, side_of
from workflow import services as workflow_services
from workflow.models import Cycle
from workflow.selectors import list_version_diff, seats_taken

# --- What the schema says about errors and headers ---------------------------------------------

_ERROR_MEANINGS = {
    400: "The request is not valid: `fields` names each field at fault.",
    401: "No credentials, or a token that is not valid (`WWW-Authenticate: Token`).",
    403: "Your role does not allow this.",
    404: "No such object, or not one you may see.",
    409: "Not possible in the current state (e.g. withdrawn, tier full, a duplicate).",
    413: "The request body is larger than the server accepts.",
    422: "This Idempotency-Key was already used for a different request.",
    429: "Too many requests: wait the number of seconds in `Retry-After`.",
}
READ_ERRORS = (401, 403, 404, 429)
LIST_ERRORS = (400, *READ_ERRORS)
WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 422, 429)


def _errors(*codes: int) -> dict:
    return {code: OpenApiResponse(ErrorOutput, description=_ERROR_MEANINGS[code]) for code in codes}


def _responses(ok: dict, errors: tuple[int, ...]) -> dict:
    return {**ok, **_errors(*errors)}


IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    pattern=r"^[!-~]{1,255}$",
    description=(
        "Any unique string, e.g. a UUID, for 24 hours. A repeat with the same key and body "
        "gets the first answer (with `Idempotent-Replayed: true`) without acting twice; the "
        "same key with a different body gets 422."
    ),
)
NOT_MODIFIED = OpenApiResponse(description="Nothing changed since the ETag you sent.")


def _input(serializer_class, request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ApiView(GenericAPIView):
    """Common to every endpoint: members only unless a view says otherwise, and bodies above
    DATA_UPLOAD_MAX_MEMORY_SIZE refused with a JSON 413 before anything reads them."""

    permission_classes = [IsMember]
    filter_backends: list = []

    def initial(self, request, *args, **kwargs):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise PayloadTooLarge(
                    f"The request body is {length:,} bytes; the most accepted is {limit:,}."
                )
        super().initial(request, *args, **kwargs)

    def paginated(self, queryset, serializer_class, **context):
        page = self.paginate_queryset(queryset)
        data = serializer_class(page, many=True, context={**context, "request": self.request})
        return self.get_paginated_response(data.data)


def _cycle_or_404(pk: int) -> Cycle:
    cycle = Cycle.objects.filter(pk=pk).first()
    if cycle is None:
        raise NotFound(f"There is no cycle #{pk}.")
    return cycle


def _nomination_or_404(pk: int):
    nomination = selectors.nomination_detail(pk)
    if nomination is None:
        raise NotFound(f"There is no nomination #{pk}.")
    return nomination


def _nomination_output(pk: int) -> dict:
    nomination = selectors.with_current_sign_offs(selectors.nomination_detail(pk))
    return NominationDetailOutput(nomination).data


# --- Who am I --------------------------------------------------------------------------------


class MeView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="The person (or integration) behind the credentials",
        responses=_responses({200: MeOutput}, (401, 429)),
    )
    def get(self, request):
        user = request.user
        return Response(
            MeOutput(
                {
                    "id": user.pk,
                    "username": user.username,
                    "name": user.get_full_name() or user.username,
                    "email": user.email,
                    "side": side_of(user),
                    "is_approver": is_approver(user),
                    "is_ops": is_ops(user),
                    "is_service_account": is_service_account(user),
                }
            ).data
        )


# --- Accounts ----------------------------------------------------------------------------------


class AccountListView(ApiView):
    permission_classes = [IsMemberOrIntegrationReadOnly]
    filterset_class = AccountFilter
    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return selectors.accounts_list()

    @extend_schema(
        summary="List accounts",
        responses=_responses({200: AccountOutput(many=True)}, LIST_ERRORS),
    )
    def get(self, request):
        return self.paginated(self.filter_queryset(self.get_queryset()), AccountOutput)

    @extend_schema(
        summary="Create an account (anyone on a side, or ops)",
        request=AccountCreateInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses=_responses({201: AccountOutput}, WRITE_ERRORS),
    )
    @idempotent
    def post(self, request):
        data = dict(_input(AccountCreateInput, request))
        account = account_services.account_create(
            name=data.pop("name"), domain=data.pop("domain"), by=request.user, **data
        )
        account = selectors.accounts_list().get(pk=account.pk)
        return Response(
            AccountOutput(account).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:account", args=[account.pk], request=request)},
        )


class AccountDetailView(ApiView):
    permission_classes = [IsMemberOrIntegrationReadOnly]

    def _account(self, pk: int) -> Account:
        account = selectors.accounts_list().filter(pk=pk).first()
        if account is None:
            raise NotFound(f"There is no account #{pk}.")
        return account

    @extend_schema(summary="An account", responses=_responses({200: AccountOutput}, READ_ERRORS))
    def get(self, request, pk: int):
        return Response(AccountOutput(self._account(pk)).data)

    @extend_schema(
        summary="Change an account (revenue operations only)",
        request=AccountUpdateInput,
        responses=_responses({200: AccountOutput}, (400, 401, 403, 404, 409, 413, 429)),
    )
    def patch(self, request, pk: int):
        account = self._account(pk)
        data = _input(AccountUpdateInput, request)
        if data.get("parent") is not None and data["parent"].pk == account.pk:
            raise Invalid("An account cannot be its own parent.", field="parent")
        account_services.account_update(account=account, by=request.user, **data)
        return Response(AccountOutput(self._account(pk)).data)


# --- Cycles, the agreed list and its versions --------------------------------------------------


class CycleListView(ApiView):
    permission_classes = [IsMemberOrIntegrationReadOnly]

    def get_queryset(self):
        return selectors.cycles_list()

    @extend_schema(
        summary="List cycles", responses=_responses({200: CycleOutput(many=True)}, LIST_ERRORS)
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        usage = seats_taken(cycle.pk for cycle in page)
        data = CycleOutput(page, many=True, context={"tier_usage": usage}).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Open a cycle with its three tiers (revenue operations only)",
        request=CycleCreateInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses=_responses({201: CycleOutput}, WRITE_ERRORS),
    )
    @idempotent
    def post(self, request):
        data = dict(_input(CycleCreateInput, request))
        tiers = data.pop("tiers")
        cycle = workflow_services.cycle_create(
            by=request.user,
            capacities={t["number"]: t["capacity"] for t in tiers},
            required_roles={t["number"]: t["required_roles"] for t in tiers},
            **data,
        )
        cycle = selectors.cycles_list().get(pk=cycle.pk)
        return Response(
            CycleOutput(cycle, context={"tier_usage": {}}).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:cycle", args=[cycle.pk], request=request)},
        )


class CycleDetailView(ApiView):
    permission_classes = [IsMemberOrIntegrationReadOnly]

    def get_permissions(self):
        if self.request.method == "PATCH":
            return [IsOps()]
        return super().get_permissions()

    def _output(self, pk: int) -> Response:
        cycle = selectors.cycles_list().filter(pk=pk).first()
        if cycle is None:
            raise NotFound(f"There is no cycle #{pk}.")
        usage = seats_taken([cycle.pk])
        return Response(CycleOutput(cycle, context={"tier_usage": usage}).data)

    @extend_schema(
        summary="A cycle, with its tiers and how full they are",
        responses=_responses({200: CycleOutput}, READ_ERRORS),
    )
    def get(self, request, pk: int):
        return self._output(pk)

    @extend_schema(
        summary="Change a cycle's state or settings (revenue operations only)",
        description=(
            "Only the fields sent change; each change is kept in the cycle's history "
            "(`events/`). A state change comes first and needs a `reason` to reopen a closed "
            "cycle. A lowered quorum approves the nominations in review that now have enough "
            "approvals on both sides. 409 where a rule refuses: a capacity below the accounts "
            "already in the tier, a transition the cycle's life does not allow, a lowered "
            "quorum that would approve a nomination into a full tier, a closed cycle's quorum."
        ),
        request=CycleUpdateInput,
        responses=_responses({200: CycleOutput}, (400, 401, 403, 404, 409, 413, 429)),
    )
    def patch(self, request, pk: int):
        cycle = _cycle_or_404(pk)
        data = dict(_input(CycleUpdateInput, request))
        tiers = data.pop("tiers", None)
        if tiers is not None:
            tiers = {t["number"]: {k: v for k, v in t.items() if k != "number"} for t in tiers}
        workflow_services.cycle_update(cycle=cycle, by=request.user, tiers=tiers, **data)
        return self._output(pk)


class CycleEventListView(ApiView):
    @extend_schema(
        summary="A cycle's history, oldest first: state changes and settings changes",
        responses=_responses({200: CycleEventOutput(many=True)}, LIST_ERRORS),
    )
    def get(self, request, pk: int):
        cycle = _cycle_or_404(pk)
        return self.paginated(selectors.cycle_events_of(cycle), CycleEventOutput)


def _matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x" and W/"x". `*` is not honoured:
    it says nothing about which version the client holds."""
    if not if_none_match:
        return False
    ours = etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == ours for tag in parse_etags(if_none_match))


class TargetAccountListView(ApiView):
    """The agreed list, for a CRM-side job to poll."""

    permission_classes = [IsMemberOrIntegrationReadOnly]
    pagination_class = TargetAccountPagination

    @extend_schema(
        summary="The agreed list of a cycle (what a CRM-side job polls)",
        description=(
            "Without `updated_since`: the accounts on the list now (add `include_removed=true` "
            "for the removed ones too). With `updated_since`: every entry added, changed or "
            "removed after that time, removed ones included (`removed_at` set, `active` "
            "false); apply them in the order given. Every answer has an `ETag`; send it back "
            "in `If-None-Match` and get `304 Not Modified` while nothing changed."
        ),
        parameters=[
            TargetAccountQuery,
            OpenApiParameter(
                "ETag",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                response=[200, 304],
                required=True,
                description="A weak validator of this answer; send it back in If-None-Match.",
            ),
            OpenApiParameter(
                "If-None-Match",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description="The ETag of an earlier answer to the same URL.",
            ),
        ],
        responses=_responses(
            {
                200: TargetAccountOutput(many=True),
                304: NOT_MODIFIED,
            },
            LIST_ERRORS,
        ),
    )
    def get(self, request, pk: int):
        query = TargetAccountQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.paginator.get_page_size(request)  # a bad page size is a 400, even with an ETag
        state = selectors.target_list_state(pk)
        if state is None:
            raise NotFound(f"There is no cycle #{pk}.")
        etag = state.etag(list(request.query_params.lists()))
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if _matches(request.headers.get("If-None-Match", ""), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        entries = selectors.target_accounts(
            cycle_id=pk,
            updated_since=query.validated_data.get("updated_since"),
            tier=query.validated_data.get("tier"),
            include_removed=query.validated_data["include_removed"],
        )
        page = self.paginator.paginate_rows(entries, request, rows=selectors.target_account_rows)
        data = target_account_representations(page)
        response = self.paginator.get_paginated_response(
            data, next_updated_since=_iso(state.next_updated_since())
        )
        for name, value in headers.items():
            response[name] = value
        return response


def _iso(moment) -> str | None:
    from rest_framework.fields import DateTimeField

    return None if moment is None else DateTimeField().to_representation(moment)


class VersionListView(ApiView):
    permission_classes = [IsMemberOrIntegrationReadOnly]

    @extend_schema(
        summary="Published versions of a cycle's list, newest first",
        responses=_responses({200: VersionOutput(many=True)}, LIST_ERRORS),
    )
    def get(self, request, pk: int):
        cycle = _cycle_or_404(pk)
        return self.paginated(selectors.versions_of(cycle), VersionOutput)


def _version_or_404(cycle: Cycle, number: int):
    version = selectors.version_of(cycle, number)
    if version is None:
        raise NotFound(f"{cycle.name} has no version {number}.")
    return version


class VersionDetailView(ApiView):
    permission_classes = [IsMemberOrIntegrationReadOnly]

    @extend_schema(
        summary="One published version of a cycle's list, with its entries",
        responses=_responses({200: VersionDetailOutput}, READ_ERRORS),
    )
    def get(self, request, pk: int, number: int):
        version = _version_or_404(_cycle_or_404(pk), number)
        return Response(VersionDetailOutput(version).data)


class VersionDiffView(ApiView):
    permission_classes = [IsMemberOrIntegrationReadOnly]

    @extend_schema(
        summary="What changed between two versions of a cycle's list",
        parameters=[DiffQuery],
        responses=_responses({200: DiffOutput}, LIST_ERRORS),
    )
    def get(self, request, pk: int, number: int):
        query = DiffQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        cycle = _cycle_or_404(pk)
        version = _version_or_404(cycle, number)
        other = _version_or_404(cycle, query.validated_data["against"])
        return Response(DiffOutput(list_version_diff(old=other, new=version)).data)


# --- Nominations -------------------------------------------------------------------------------


def _account_for(data: dict) -> Account:
    if "account" in data:
        account = Account.objects.filter(pk=data["account"]).first()
        if account is None:
            raise Invalid(f"There is no account #{data['account']}.", field="account")
        return account
    try:
        domain = normalise_domain(data["account_domain"])
    except Invalid as error:
        raise Invalid(error.message, field="account_domain") from None
    account = Account.objects.filter(domain=domain).first()
    if account is None:
        raise Invalid(
            f"There is no account with the domain {domain}. Create it first "
            "(POST /api/v1/accounts/).",
            field="account_domain",
        )
    return account


class NominationListView(ApiView):
    filterset_class = NominationFilter
    filter_backends = [DjangoFilterBackend]

    def get_queryset(self):
        return selectors.nominations_list()

    @extend_schema(
        summary="List nominations",
        responses=_responses({200: NominationOutput(many=True)}, LIST_ERRORS),
    )
    def get(self, request):
        return self.paginated(self.filter_queryset(self.get_queryset()), NominationOutput)

    @extend_schema(
        summary="Propose to add, move or remove an account (anyone on a side)",
        description=(
            "The proposer's side is the side of the person signed in; a `side` field is "
            "refused (400). The nomination is submitted at once: it answers in state "
            "`in_review`."
        ),
        request=NominationCreateInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses=_responses({201: NominationDetailOutput}, WRITE_ERRORS),
    )
    @idempotent
    def post(self, request):
        data = _input(NominationCreateInput, request)
        cycle = Cycle.objects.filter(pk=data["cycle"]).first()
        if cycle is None:
            raise Invalid(f"There is no cycle #{data['cycle']}.", field="cycle")
        nomination = workflow_services.nomination_create(
            cycle=cycle,
            account=_account_for(data),
            kind=data["kind"],
            tier=data.get("tier"),
            rationale=data["rationale"],
            evidence_links=data["evidence_links"],
            by=request.user,
        )
        return Response(
            _nomination_output(nomination.pk),
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:nomination", args=[nomination.pk], request=request)},
        )


class NominationDetailView(ApiView):
    @extend_schema(
        summary="A nomination, with each side's sign-off status in the current round",
        responses=_responses({200: NominationDetailOutput}, READ_ERRORS),
    )
    def get(self, request, pk: int):
        nomination = selectors.with_current_sign_offs(_nomination_or_404(pk))
        return Response(NominationDetailOutput(nomination).data)


class DecisionListView(ApiView):
    @extend_schema(
        summary="Every decision on a nomination, all rounds, oldest first",
        responses=_responses({200: DecisionOutput(many=True)}, LIST_ERRORS),
    )
    def get(self, request, pk: int):
        nomination = _nomination_or_404(pk)
        return self.paginated(selectors.decisions_of(nomination), DecisionOutput)

    @extend_schema(
        summary="Approve, reject or request changes (approvers of either side)",
        description=(
            "The decision counts for the side of the person signed in, never for a side named "
            "in the request (a `side` field is refused with 400). Reject and request changes "
            "need a note. The approval that brings both sides to their quorum approves the "
            "nomination and changes the agreed list; 409 if the tier is full."
        ),
        request=DecisionInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses=_responses({201: DecisionResultOutput}, WRITE_ERRORS),
    )
    @idempotent
    def post(self, request, pk: int):
        nomination = _nomination_or_404(pk)
        data = _input(DecisionInput, request)
        nomination = workflow_services.nomination_sign_off(
            nomination=nomination, by=request.user, decision=data["decision"], note=data["note"]
        )
        decision = (
            selectors.decisions_of(nomination)
            .filter(person=request.user, round=nomination.round)
            .get()
        )
        return Response(
            {
                "decision": DecisionOutput(decision).data,
                "nomination": _nomination_output(nomination.pk),
            },
            status=status.HTTP_201_CREATED,
        )


class CommentListView(ApiView):
    @extend_schema(
        summary="The discussion of a nomination, oldest first",
        responses=_responses({200: CommentOutput(many=True)}, LIST_ERRORS),
    )
    def get(self, request, pk: int):
        nomination = _nomination_or_404(pk)
        return self.paginated(selectors.comments_of(nomination), CommentOutput)

    @extend_schema(
        summary="Add to the discussion; @username mentions notify that person",
        request=CommentInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses=_responses({201: CommentOutput}, WRITE_ERRORS),
    )
    @idempotent
    def post(self, request, pk: int):
        nomination = _nomination_or_404(pk)
        data = _input(CommentInput, request)
        comment = workflow_services.comment_create(
            nomination=nomination, by=request.user, body=data["body"]
        )
        comment = selectors.comments_of(nomination).get(pk=comment.pk)
        return Response(CommentOutput(comment).data, status=status.HTTP_201_CREATED)


class EventListView(ApiView):
    @extend_schema(
        summary="The audit trail of a nomination, oldest first",
        responses=_responses({200: EventOutput(many=True)}, LIST_ERRORS),
    )
    def get(self, request, pk: int):
        nomination = _nomination_or_404(pk)
        return self.paginated(selectors.events_of(nomination), EventOutput)


class WithdrawView(ApiView):
    @extend_schema(
        summary="Withdraw a nomination that is still open (its proposer only)",
        request=WithdrawInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses=_responses({200: NominationDetailOutput}, WRITE_ERRORS),
    )
    @idempotent
    def post(self, request, pk: int):
        nomination = _nomination_or_404(pk)
        data = _input(WithdrawInput, request)
        workflow_services.nomination_withdraw(
            nomination=nomination, by=request.user, note=data["note"]
        )
        return Response(_nomination_output(pk))


class ResubmitView(ApiView):
    @extend_schema(
        summary="Answer a request for changes: edit and start a new round (its proposer only)",
        request=ResubmitInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses=_responses({200: NominationDetailOutput}, WRITE_ERRORS),
    )
    @idempotent
    def post(self, request, pk: int):
        nomination = _nomination_or_404(pk)
        data = _input(ResubmitInput, request)
        workflow_services.nomination_resubmit(
            nomination=nomination,
            by=request.user,
            tier=data.get("tier"),
            rationale=data.get("rationale"),
            evidence_links=data.get("evidence_links"),
            note=data["note"],
        )
        return Response(_nomination_output(pk))


# --- Integration tokens (revenue operations) ---------------------------------------------------


class ServiceAccountListView(ApiView):
    permission_classes = [IsOps]

    @extend_schema(
        summary="Integration logins (revenue operations only)",
        responses=_responses({200: ServiceAccountOutput(many=True)}, LIST_ERRORS),
    )
    def get(self, request):
        return self.paginated(selectors.service_accounts_list(), ServiceAccountOutput)

    @extend_schema(
        summary="Create a read-only integration token for a CRM-side job (ops only)",
        description=(
            "The token can read accounts, cycles and the agreed list, and nothing else. It is "
            "shown once, in this answer."
        ),
        request=ServiceAccountInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses=_responses({201: ServiceAccountCreatedOutput}, WRITE_ERRORS),
    )
    @idempotent(secret_fields=("token",))
    def post(self, request):
        data = _input(ServiceAccountInput, request)
        service_account, token = api_services.service_account_create(
            username=data["username"], description=data.get("description", ""), by=request.user
        )
        service_account = selectors.service_accounts_list().get(pk=service_account.pk)
        service_account.token = token
        body = ServiceAccountCreatedOutput(service_account).data
        return Response(body, status=status.HTTP_201_CREATED)


def _service_account_or_404(pk: int):
    service_account = selectors.service_accounts_list().filter(pk=pk).first()
    if service_account is None:
        raise NotFound(f"There is no integration login #{pk}.")
    return service_account


class ServiceAccountRotateView(ApiView):
    permission_classes = [IsOps]

    @extend_schema(
        summary="Issue a new integration token; the old one stops working (ops only)",
        description="The new token is shown once, in this answer.",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses=_responses({200: ServiceAccountCreatedOutput}, WRITE_ERRORS),
    )
    @idempotent(secret_fields=("token",))
    def post(self, request, pk: int):
        service_account = _service_account_or_404(pk)
        token = api_services.service_account_token_rotate(
            service_account=service_account, by=request.user
        )
        service_account = selectors.service_accounts_list().get(pk=pk)
        service_account.token = token
        return Response(ServiceAccountCreatedOutput(service_account).data)


class ServiceAccountRevokeView(ApiView):
    permission_classes = [IsOps]

    @extend_schema(
        summary="Revoke an integration token at once (ops only)",
        request=None,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses=_responses({200: ServiceAccountOutput}, WRITE_ERRORS),
    )
    @idempotent
    def post(self, request, pk: int):
        service_account = _service_account_or_404(pk)
        api_services.service_account_revoke(service_account=service_account, by=request.user)
        service_account = selectors.service_accounts_list().get(pk=pk)
        return Response(ServiceAccountOutput(service_account).data)


# --- Activities from marketing tools and scripts ---------------------------------------------


class ActivityBatchView(ApiView):
    # Who may write is the service's rule (require_activity_writer): ops, and callers granted
    # accounts_app.add_activity, integration tokens included.
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary=(
            "Write up to 1,000 activities (ops, or a token or person granted the right to add "
            "activities)"
        ),
        description=(
            "All or nothing: a batch with any bad row writes nothing and answers 400, with "
            "`fields` naming each row and field at fault as `rows.<index>.<field>`. A row sent "
            "again with the same `external_id` updates that activity. Answers 201 when it "
            "created an activity, else 200."
        ),
        request=ActivityBatchInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses=_responses(
            {201: ActivityBatchOutput, 200: ActivityBatchOutput},
            tuple(code for code in WRITE_ERRORS if code != 404),
        ),
    )
    @idempotent
    def post(self, request):
        account_services.require_activity_writer(request.user)
        data = _input(ActivityBatchInput, request)
        result = account_services.activities_ingest(rows=data["rows"], by=request.user)
        return Response(
            ActivityBatchOutput(result).data,
            status=status.HTTP_201_CREATED if result["created"] else status.HTTP_200_OK,
        )
