"""What crm tells the apps that use what it brings in. crm imports none of them: an app that
cares connects to a signal in its AppConfig.ready()."""

from django.dispatch import Signal

# A pull (crm.pull.services.pull) has finished, with `run`, its SyncRun (state succeeded,
# partial or failed; `detail["more_to_pull"]` when another task carries on). Sent outside any
# transaction of the pull's own; receivers that queue work do it after commit.
pull_finished = Signal()
