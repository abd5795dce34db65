from rest_framework.routers import SimpleRouter

from governance.api import approvals, audit, exceptions, policies

router = SimpleRouter(trailing_slash=True)
for area in (policies, approvals, exceptions, audit):
    area.register(router)

urlpatterns = router.urls
