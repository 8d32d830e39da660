"""In-transaction hooks: how a lower app tells a higher one something inside its transaction
without importing it (`workflow` and `accounts_app` never import `crm`). The higher app connects
its receivers in its AppConfig.ready(); a receiver's error propagates and rolls the change back,
so "the CRM must hear of it" is as atomic as the change itself.

- target_changed(target, nomination): an approved nomination changed the agreed list.
- accounts_changed(accounts): accounts' CRM-facing fields (name, domain, owners) changed
  (one edit, or a batch of the CSV import).
- cycle_closed(cycle): a cycle closed; its accounts may no longer be targets anywhere.

And one that is sent after the fact, outside the sender's transactions:

- pull_finished(state, more_to_pull): a CRM pull (crm.pull.services.pull) finished, in state
  succeeded, partial or failed; `more_to_pull` when another task carries it on. coverage
  snapshots the active cycles on it; crm does not know who listens.

And one a page sends to be completed by the apps above it:

- account_page(account, viewer): accounts_app's account page asks what the higher apps know
  of the account (workflow: its nominations and places on the lists); each receiver returns a
  dict added to the page's context.
"""

from django.dispatch import Signal

target_changed = Signal()
accounts_changed = Signal()
cycle_closed = Signal()
pull_finished = Signal()
account_page = Signal()
