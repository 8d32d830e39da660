"""Small builders shared by the sandbox tests."""


def company_inputs(count, *, start=0, key="accord_account_key"):
    return [
        {
            "idProperty": key,
            "id": f"acct-{i}",
            "properties": {"name": f"Account {i}", "domain": f"account{i}.example"},
        }
        for i in range(start, start + count)
    ]
