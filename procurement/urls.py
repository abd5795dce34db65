from django.urls import path

from procurement import views

app_name = "procurement"

urlpatterns = [
    path("suppliers/", views.SupplierListView.as_view(), name="supplier-list"),
    path("suppliers/<str:code>/", views.SupplierDetailView.as_view(), name="supplier-detail"),
]

# Screens of buying and of receiving on a handheld (issue 14, point 8).
from procurement import views_purchasing, views_receiving  # noqa: E402

urlpatterns += views_purchasing.urlpatterns + views_receiving.urlpatterns

# Put-away rules per warehouse (issue 14, point 5).
urlpatterns += [
    path("putaway-rules/", views.PutawayRuleListView.as_view(), name="putaway-rule-list"),
    path("putaway-rules/new/", views.PutawayRuleFormView.as_view(), name="putaway-rule-new"),
    path("putaway-rules/<int:pk>/", views.PutawayRuleFormView.as_view(), name="putaway-rule-edit"),
]

# Reschedule a purchase order and the handheld put-away list of a receipt (issue 14, points 5 and 7).
from procurement import views_putaway_list, views_schedule  # noqa: E402

urlpatterns += views_schedule.urlpatterns + views_putaway_list.urlpatterns
