from django.apps import AppConfig


class CoverageConfig(AppConfig):
    name = "coverage"
    verbose_name = "Coverage and alignment"

    def ready(self) -> None:
        # The pull (crm) says when it has finished; coverage listens, crm never imports us.
        from coverage import receivers  # noqa: F401
