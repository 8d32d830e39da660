from celery import shared_task


@shared_task(acks_late=True)
def expire_idempotency_keys() -> int:
    from api.services import idempotency_keys_expire

    return idempotency_keys_expire()
