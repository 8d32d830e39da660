"""What every app's web pages share: who may see a page, paging, and showing a service's
DomainError next to the form that caused it."""

from functools import wraps

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet, Window
from django.db.models.query import ModelIterable
from django.urls import reverse

from core.errors import DomainError
from core.roles import is_member

PER_PAGE = 25

NOT_ON_A_SIDE = (
    "You are signed in, but you are not on the marketing or the sales side yet, so Accord has "
    "nothing to show you. Revenue operations must put you on a side first."
)


def member_required(view):
    """Pages are for people on a side and for revenue operations. Anonymous visitors never get
    here (LoginRequiredMiddleware sends them to sign in)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_member(request.user):
            raise PermissionDenied(NOT_ON_A_SIDE)
        return view(request, *args, **kwargs)

    return wrapper


def paginate(request, queryset, *, per_page: int = PER_PAGE, count: int | None = None):
    """The requested page. `count`, the number of rows when the page has counted them already
    (the state counts of a cycle's nominations), spares the paginator counting them."""
    if count is None:
        return OneQueryPaginator(queryset, per_page).get_page(request.GET.get("page"))
    paginator = Paginator(queryset, per_page)
    paginator.count = count  # a cached_property: set, never queried
    return paginator.get_page(request.GET.get("page"))


class OneQueryPaginator(Paginator):
    """Reads a page's rows and the number of all rows in one query (COUNT(*) OVER ()), rather
    than a COUNT and then the rows: on a list page, building the SQL of a filtered queryset
    twice was a tenth of its time. A page past the end, a number that is not one, a query the
    window would count wrongly (DISTINCT counts the rows before it, a UNION cannot be
    annotated) or rows that are not models get Paginator's own two queries."""

    TOTAL = "rows_in_all"

    def get_page(self, number):
        page = self._page_in_one_query(number)
        return page if page is not None else super().get_page(number)

    def _page_in_one_query(self, number):
        queryset = self.object_list
        if (
            not isinstance(queryset, QuerySet)
            or queryset._iterable_class is not ModelIterable  # values(): no attribute to read
            or queryset.query.distinct
            or queryset.query.combinator
            or self.orphans
        ):
            return None
        try:
            number = int(number or 1)
        except (TypeError, ValueError):
            return None
        if number < 1:
            return None
        bottom = (number - 1) * self.per_page
        counted = queryset.annotate(**{self.TOTAL: Window(Count("*"))})
        rows = list(counted[bottom : bottom + self.per_page])
        if not rows:
            return None
        self.count = getattr(rows[0], self.TOTAL)  # a cached_property: set, never queried
        return self._get_page(rows, number, self)


def show_domain_error(form: forms.Form, error: DomainError) -> None:
    """Put a service's plain-language message next to the field it names, or on top."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


DATABASE_UNAVAILABLE = (
    "Accord cannot reach its database right now (it may be restarting). Please try again in a "
    "minute."
)
DATABASE_RETRY_AFTER_SECONDS = 30


def server_error(request):
    """The site's handler500. A request that failed because the database could not be reached
    (PostgreSQL restarting, a connection dropped) is a 503 with a plain message and
    Retry-After, as JSON in the API's error format under /api/; it renders nothing that needs
    the database. Any other error is Django's plain 500 page.

    Django calls the handler inside the `except` that caught the error, so sys.exc_info() is
    the error that escaped the view or a middleware."""
    import sys

    from django.db import InterfaceError, OperationalError
    from django.http import HttpResponse, JsonResponse
    from django.views.defaults import server_error as plain_server_error

    error = sys.exc_info()[1]
    if not isinstance(error, OperationalError | InterfaceError):
        return plain_server_error(request)
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
    if request.path_info.startswith("/api/"):
        body = {"detail": DATABASE_UNAVAILABLE, "code": "database_unavailable"}
        return JsonResponse(body, status=503, headers=headers)
    return HttpResponse(
        DATABASE_UNAVAILABLE, status=503, content_type="text/plain; charset=utf-8", headers=headers
    )


_SENTINEL = 918273645


def link_to(name: str, *args):
    """A function of an id giving `reverse(name, args=[*args, id])`, reversed once: for a
    table's rows, each of which links to the same page of another object."""
    head, tail = reverse(name, args=[*args, _SENTINEL]).rsplit(str(_SENTINEL), 1)
    return lambda pk: f"{head}{int(pk)}{tail}"
