"""The planner's board of transfer recommendations (``transfers:recommendation-list``): the recommendations of the
scope (either end), best score first, narrowed by region, reason, minimum score, status (open unless asked) and
warehouse, exported as CSV through the list framework; per open row Accept and Dismiss, each one confirm step
(``recommendation_accept``, ``recommendation_dismiss``), and Refresh now (``recommendations_refresh`` over the
user's warehouses). Every refusal of a service is a message on the page, never a server error.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path, reverse
from django.views import View

from erp.confirm import ConfirmStepView
from erp.exceptions import DomainError
from erp.formats import plain_number
from erp.scoping import scope_of, scope_queryset
from erp.screens import SEARCH_MAX_LENGTH, Column, ScreenAccessMixin, ScreenListView
from governance.selectors import policy_value
from inventory.models import ItemCost
from warehouses.models import Warehouse
from warehouses.transfers import recommendations, rules
from warehouses.transfers.api_recommendations import recommendation_queryset
from warehouses.transfers.models import (
    RecommendationReason,
    RecommendationStatus,
    Transfer,
    TransferRecommendation,
    TransferStatus,
)
from warehouses.transfers.services import THRESHOLD_POLICY
from warehouses.transfers.views import refusal

EVERY_STATUS = "all"  # the status filter's "every status": without ``status`` the board shows the open ones
CENT = Decimal("0.01")


def _freight(row: TransferRecommendation) -> str:
    return "" if row.freight_cost is None else f"{row.freight_cost} {row.freight_currency}".strip()


class RecommendationListView(ScreenListView[TransferRecommendation]):
    """The recommendations of the scope, best score first; open ones unless another status is chosen."""

    has_filters = True

    model = TransferRecommendation
    permission_required = "transfers.view_transferrecommendation"
    template_name = "transfers/recommendation_list.html"
    rows_template_name = "transfers/_recommendation_rows.html"
    search_fields = ("item__sku",)
    search_placeholder = "SKU"
    title = "Transfer recommendations"
    default_sort = "-score"
    columns = (
        Column("SKU", "item.sku", sort="item__sku"),
        Column("From", "from_warehouse.code", sort="from_warehouse__code"),
        Column("To", "to_warehouse.code", sort="to_warehouse__code"),
        Column("Quantity", lambda r: plain_number(r.quantity), sort="quantity", css="num"),
        Column("Reason", "get_reason_display", sort="reason"),
        Column("Score", "score", sort="score", css="num"),
        Column("Expected arrival", "expected_arrival", sort="expected_arrival"),
        Column("Freight", _freight, sort="freight_cost", css="num col-opt"),
        Column("Explanation", "explanation", css="col-opt"),
        Column("Status", "get_status_display", sort="status"),
        Column("Transfer", "transfer_number", css="col-opt"),
        Column("Actions"),
    )

    def filter_value(self, name: str) -> str:
        return self.request.GET.get(name, "").strip()[:SEARCH_MAX_LENGTH]

    def filters(self) -> dict[str, str]:
        status = self.filter_value("status") if "status" in self.request.GET else RecommendationStatus.OPEN
        reason = self.filter_value("reason")
        try:
            min_score = Decimal(self.filter_value("min_score")) if self.filter_value("min_score") else None
        except InvalidOperation:
            min_score = None
        return {"status": status if status in RecommendationStatus.values else EVERY_STATUS,
                "reason": reason if reason in RecommendationReason.values else "",
                "min_score": "" if min_score is None or not min_score.is_finite() else plain_number(min_score),
                "region": self.filter_value("region"), "warehouse": self.filter_value("warehouse")}

    def base_queryset(self) -> QuerySet[TransferRecommendation]:
        chosen = self.filters()
        queryset = recommendation_queryset()
        if chosen["status"] != EVERY_STATUS:
            queryset = queryset.filter(status=chosen["status"])
        if chosen["reason"]:
            queryset = queryset.filter(reason=chosen["reason"])
        if chosen["min_score"]:
            queryset = queryset.filter(score__gte=Decimal(chosen["min_score"]))
        if chosen["region"]:
            queryset = queryset.filter(Q(from_warehouse__region__code=chosen["region"])
                                       | Q(to_warehouse__region__code=chosen["region"]))
        if chosen["warehouse"]:
            queryset = queryset.filter(Q(from_warehouse__code=chosen["warehouse"])
                                       | Q(to_warehouse__code=chosen["warehouse"]))
        return queryset

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # The warehouses and regions the scope's recommendations leave or reach: the other end may be outside it.
        ends = scope_queryset(TransferRecommendation.objects.all(), self.request.user).order_by()
        codes = set(ends.values_list("from_warehouse__code", flat=True).distinct()) | set(
            ends.values_list("to_warehouse__code", flat=True).distinct())
        regions = Warehouse.objects.filter(code__in=codes).values_list("region__code", flat=True).distinct()
        context.update(filters=self.filters(), statuses=RecommendationStatus.choices, every_status=EVERY_STATUS,
                       reasons=RecommendationReason.choices, warehouses=sorted(codes),
                       regions=sorted(regions))
        return context


def _recommendation(user: Any, pk: int) -> TransferRecommendation:
    return get_object_or_404(scope_queryset(recommendation_queryset(), user), pk=pk)


def board_url() -> str:
    return reverse("transfers:recommendation-list")


def _said(rec: TransferRecommendation) -> str:
    return (f"{plain_number(rec.quantity)} {rec.item.base_uom.code} {rec.item.sku} from {rec.from_warehouse.code} "
            f"to {rec.to_warehouse.code}")


class RecommendationAcceptView(ConfirmStepView[TransferRecommendation]):
    """Accept an open recommendation: a transfer is made and submitted (above the threshold it waits for
    approval); the page names the transfer, its value at cost now and where it goes next."""

    permission_required = "transfers.change_transferrecommendation"
    template_name = "transfers/recommendation_confirm.html"
    button_label = "Accept: make the transfer"
    back_label = "Back to the board"

    def get_target(self, pk: int) -> TransferRecommendation:
        return _recommendation(self.request.user, pk)

    def question(self, target: TransferRecommendation) -> str:
        return f"Accept: transfer {_said(target)}?"

    def undoes(self, target: TransferRecommendation) -> list[str]:
        if target.status != RecommendationStatus.OPEN:
            return [f"This recommendation is {target.get_status_display().lower()}: it can no longer be accepted."]
        source = target.from_warehouse
        currency = source.legal_entity.currency
        unit_cost = (ItemCost.objects.filter(item_id=target.item_id, legal_entity_id=source.legal_entity_id)
                     .values_list("unit_cost", flat=True).first()) or Decimal(0)
        value = (target.quantity * unit_cost).quantize(CENT)
        threshold = Decimal(str(policy_value(THRESHOLD_POLICY, warehouse=source).value))
        said = [f"A new transfer of {_said(target)} is requested and submitted, expected at "
                f"{target.to_warehouse.code} on {target.expected_arrival.isoformat()} "
                f"({target.transit_days} transit day{'s' if target.transit_days != 1 else ''}).",
                f"Its value at cost is about {value:,} {currency} (the approval threshold at {source.code} is "
                f"{threshold:,} {currency})."]
        if rules.needs_approval(value=value, threshold=threshold):
            said.append("Above the threshold it goes to approval: it is dispatched only once approved.")
        else:
            said.append(f"At or below the threshold it is approved at once: {source.code} may dispatch it.")
        if target.freight_cost is not None:
            said.append(f"Freight about {target.freight_cost} {target.freight_currency}.")
        said.append(f"Why: {target.explanation}")
        return said

    def back_url(self, target: TransferRecommendation) -> str:
        return board_url()

    def refusal(self, error: DomainError) -> str:
        return refusal(error)

    def perform(self, target: TransferRecommendation, reason: str) -> str:
        made = recommendations.recommendation_accept(recommendation=target, actor=self.request.user, submit=True)
        self.made: Transfer = made
        if made.status == TransferStatus.PENDING_APPROVAL:
            return (f"{made.number} is made from the recommendation and waits for approval: {made.value} "
                    f"{made.currency} at cost is above the threshold.")
        return (f"{made.number} is made from the recommendation and approved: {made.from_warehouse.code} may "
                f"dispatch it.")

    def done_url(self, target: TransferRecommendation) -> str:
        return reverse("transfers:transfer-detail", args=[self.made.pk])


class RecommendationDismissView(ConfirmStepView[TransferRecommendation]):
    """Dismiss an open recommendation with a reason (the pair stays quiet for a while)."""

    permission_required = "transfers.change_transferrecommendation"
    button_label = "Dismiss the recommendation"
    back_label = "Keep it open"
    takes_reason = True
    reason_required = True
    reason_help = (f"Why it is dismissed: kept with the recommendation; at most {recommendations.MAX_REASON} "
                   f"characters.")

    def get_target(self, pk: int) -> TransferRecommendation:
        return _recommendation(self.request.user, pk)

    def question(self, target: TransferRecommendation) -> str:
        return f"Dismiss the recommendation to transfer {_said(target)}?"

    def undoes(self, target: TransferRecommendation) -> list[str]:
        if target.status != RecommendationStatus.OPEN:
            return [f"This recommendation is {target.get_status_display().lower()}: it can no longer be dismissed."]
        return [f"No transfer is made for it; the same SKU between {target.from_warehouse.code} and "
                f"{target.to_warehouse.code} is not recommended again for {recommendations.DISMISS_QUIET_DAYS} days.",
                f"It said: {target.explanation}"]

    def back_url(self, target: TransferRecommendation) -> str:
        return board_url()

    def refusal(self, error: DomainError) -> str:
        return refusal(error)

    def perform(self, target: TransferRecommendation, reason: str) -> str:
        recommendations.recommendation_dismiss(recommendation=target, actor=self.request.user, reason=reason)
        return f"The recommendation to transfer {_said(target)} is dismissed."


class RecommendationRefreshView(ScreenAccessMixin, View):
    """Recompute the recommendations touching the user's warehouses now (beat does it hourly)."""

    permission_required = "transfers.add_transferrecommendation"
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        scope = scope_of(request.user)
        warehouses = None if scope.enterprise else list(scope_queryset(Warehouse.objects.all(), request.user))
        try:
            done = recommendations.recommendations_refresh(actor=request.user, warehouses=warehouses)
        except DomainError as error:
            messages.error(request, refusal(error))
        else:
            messages.success(request, f"Recommendations refreshed: {done['created']} new, {done['updated']} "
                                      f"updated, {done['expired']} expired; {done['open']} open.")
        return redirect("transfers:recommendation-list")


urlpatterns: list[URLPattern] = [
    path("transfers/recommendations/", RecommendationListView.as_view(), name="recommendation-list"),
    path("transfers/recommendations/refresh/", RecommendationRefreshView.as_view(), name="recommendation-refresh"),
    path("transfers/recommendations/<int:pk>/accept/", RecommendationAcceptView.as_view(),
         name="recommendation-accept"),
    path("transfers/recommendations/<int:pk>/dismiss/", RecommendationDismissView.as_view(),
         name="recommendation-dismiss"),
]
