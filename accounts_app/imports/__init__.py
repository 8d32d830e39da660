"""CSV imports, of accounts and of activities, in the admin.

- files.py: reading a file of any kind (encodings, rows and the line each starts on, cells);
- kinds.py: what differs between kinds (columns, who may import, reading, counting and writing
  a batch), one object per kind: accounts.py (ACCOUNTS), activities.py (ACTIVITIES);
- pipeline.py: the steps, the same for every kind: upload (csv_import_create), check in a task
  (csv_import_check), confirm (csv_import_confirm), import in a task and one transaction
  (csv_import_run), and the resumption of what stalled (csv_imports_resume).
"""

from accounts_app.imports.pipeline import (
    KINDS,
    csv_import_check,
    csv_import_confirm,
    csv_import_create,
    csv_import_run,
    csv_imports_resume,
    kind_rules,
    too_large,
)

__all__ = [
    "KINDS",
    "csv_import_check",
    "csv_import_confirm",
    "csv_import_create",
    "csv_import_run",
    "csv_imports_resume",
    "kind_rules",
    "too_large",
]
