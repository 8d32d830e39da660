"""`CRM_BACKEND=none`: sync off. Changes are still recorded in the outbox and marked delivered
without any request, so turning a CRM on later starts from `manage.py crm_push --cycle ID`."""

from crm.adapters.base import Adapter, PushRecord, RecordResult


class NoneAdapter(Adapter):
    name = "none"
    keeps_digests = False

    def push(self, records: list[PushRecord]) -> list[RecordResult]:
        return [RecordResult(key=r.key, ok=True, crm_id=r.crm_id) for r in records]
