"""Small builders shared by the sandbox tests."""

HUBSPOT_TOKEN = "test-token"


def company_inputs(count, *, start=0, key="accord_account_key"):
    return [
        {
            "idProperty": key,
            "id": f"acct-{i}",
            "properties": {"name": f"Account {i}", "domain": f"account{i}.example"},
        }
        for i in range(start, start + count)
    ]


def client(base_url="", **options):
    """An httpx client for loopback HTTP (no TLS context to build: ~0.15 s saved per client)."""
    import httpx

    return httpx.Client(base_url=base_url, verify=False, timeout=10, **options)


plain = client()
