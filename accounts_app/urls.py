app_name = "accounts_app"

urlpatterns: list = []
