app_name = "warehouses"

urlpatterns: list = []
