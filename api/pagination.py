from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=N&page_size=M` (at most 1,000). Answers `{count, next, previous, results}`;
    a page past the end is a 404."""

    page_size_query_param = "page_size"
    max_page_size = 1000
    invalid_page_message = "There is no page {page_number}: {message}"


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
                "Send this as `updated_since` on your next poll (null while the list has never "
                "had an entry). It lies a little before the latest change, so an entry may come "
                "twice; apply entries as upserts."
            ),
        }
        schema["required"] = [*schema.get("required", []), "next_updated_since"]
        return schema
