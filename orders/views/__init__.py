"""The orders screens, one module per area (each has its own ``urlpatterns``, included by ``orders.urls``)."""
