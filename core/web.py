"""What every app's web pages share: who may see a page, paging, and showing a service's
DomainError next to the form that caused it."""

from functools import wraps

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator

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


def paginate(request, queryset, *, per_page: int = PER_PAGE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def show_domain_error(form: forms.Form, error: DomainError) -> None:
    """Put a service's plain-language message next to the field it names, or on top."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)
