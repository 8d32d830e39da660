"""The pull: what the CRM knows about the accounts (companies, contacts with their buying roles
and last engagement, deals, and the activities of both funnels: sales touches, marketing
touches and campaign responses) read back into Accord, incrementally.

- crm.pull.hubspot / crm.pull.salesforce: readers, one per CRM, over the push adapters' HTTP
  transport; they hand over pages of records in one shape (crm.pull.records).
- crm.pull.store: writes a page into accounts_app's models (who owns which field: there).
- crm.pull.services: pull runs, cursors and their leases, pulls by id for the webhook, ops'
  requests.

See docs/crm.md, "Pull".
"""
