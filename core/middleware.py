"""A query string holding NUL (`%00`) is answered 400 before any page's view runs.

PostgreSQL cannot hold NUL in text, so psycopg refuses any query that carries one: a search box,
an admin list filter or a view reading `request.GET` would answer 500. Forms refuse NUL in the
fields they clean (Django's ProhibitNullCharactersValidator), but many query parameters never
pass through a form (the admin's filters, a page number, a tab). No search can match NUL either,
so refusing the request loses nothing and keeps the rule in one place. The API is left to its
serializers and filters, which refuse NUL themselves and name the parameter at fault.
"""

from django.http import HttpResponseBadRequest

MESSAGE = "The address holds a NUL character (%00), which no search or filter can match."


class RefuseNulInQueryMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/"):
            return self.get_response(request)
        if any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            return HttpResponseBadRequest(MESSAGE)
        return self.get_response(request)
