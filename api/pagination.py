import functools

from django.core.paginator import Paginator
from rest_framework import pagination
from rest_framework.exceptions import ValidationError


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=N&page_size=M` (M from 1 to 1,000; more is read as 1,000). Answers
    `{count, next, previous, results}`; a page past the end is a 404, a page size that is not
    a whole number of at least 1 a 400."""

    page_size_query_param = "page_size"
    max_page_size = 1000
    invalid_page_message = "There is no page {page_number}: {message}"

    def paginate_rows(self, queryset, request, *, rows):
        """Like paginate_queryset, reading only the page's entries as rows(page queryset)."""
        self.django_paginator_class = functools.partial(_RowsPaginator, rows=rows)
        return self.paginate_queryset(queryset, request)

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        f"Use a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return min(size, self.max_page_size)


class _RowsPaginator(Paginator):
    """Counts the queryset as it is (no joins), then reads the page through `rows`."""

    def __init__(self, object_list, per_page, *, rows, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.rows = rows

    def _get_page(self, object_list, number, paginator):
        return super()._get_page(self.rows(object_list), number, paginator)


class TargetAccountPagination(PageNumberPagination):
    """The agreed list, 500 entries a page by default, plus the `next_updated_since` to send
    on the next poll."""

    page_size = 500

    def get_paginated_response(self, data, *, next_updated_since=None):
        response = super().get_paginated_response(data)
        response.data["next_updated_since"] = next_updated_since
        return response

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"]["next_updated_since"] = {
            "type": "string",
            "format": "date-time",
            "nullable": True,
            "description": (
                "Send this as `updated_since` on your next poll (null while the list is "
                "empty). It lies a little before the latest change, so an entry may come "
                "twice; apply entries as upserts."
            ),
        }
        schema["required"] = [*schema.get("required", []), "next_updated_since"]
        return schema
