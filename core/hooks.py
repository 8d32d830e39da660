"""In-transaction hooks: how a lower app tells a higher one something inside its transaction
without importing it (`workflow` and `accounts_app` never import `crm`). The higher app connects
its receivers in its AppConfig.ready(); a receiver's error propagates and rolls the change back,
so "the CRM must hear of it" is as atomic as the change itself.

- target_changed(target, nomination): an approved nomination changed the agreed list.
- accounts_changed(accounts): accounts' CRM-facing fields (name, domain, owners) changed
  (one edit, or a batch of the CSV import).
- cycle_closed(cycle): a cycle closed; its accounts may no longer be targets anywhere.
"""

from django.dispatch import Signal

target_changed = Signal()
accounts_changed = Signal()
cycle_closed = Signal()
