"""Domains are stored normalised, so one company has one domain however it is typed."""

import pytest

from accounts_app.domains import normalise_domain
from core.errors import Invalid


@pytest.mark.parametrize(
    "typed,stored",
    [
        ("example.com", "example.com"),
        ("  Example.COM  ", "example.com"),
        ("https://WWW.Example.com/about", "example.com"),
        ("http://shop.example.co.uk:8080/cart?id=1#top", "shop.example.co.uk"),
        ("example.com.", "example.com"),
        ("ceo@example.com", "example.com"),
        ("ftp://files.example.org", "files.example.org"),
        ("Bücher.de", "xn--bcher-kva.de"),
        ("www.com", "www.com"),
        ("www2.example.com", "www2.example.com"),
    ],
)
def test_it_normalises_a_domain(typed, stored):
    assert normalise_domain(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["", "   ", None, "localhost", "exa mple.com", "-bad.example", "bad-.example", "a..b",
     "192.168.0.1", "x" * 64 + ".com", "https://"],
)  # fmt: skip
def test_it_refuses_what_is_not_a_domain(typed):
    with pytest.raises(Invalid) as error:
        normalise_domain(typed)

    assert error.value.field == "domain"
    assert error.value.message
