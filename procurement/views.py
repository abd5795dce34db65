"""Browser screens of suppliers."""

from __future__ import annotations

from erp.screens import Column, ScreenDetailView, ScreenListView
from procurement.models import Supplier


class SupplierListView(ScreenListView[Supplier]):
    csv_kind = "suppliers"
    model = Supplier
    permission_required = "procurement.view_supplier"
    template_name = "procurement/supplier_list.html"
    rows_template_name = "procurement/_supplier_rows.html"
    search_fields = ("code", "name", "email", "currency")
    search_placeholder = "Code, name, email or currency"
    columns = (
        Column("Code", "code", sort="code"),
        Column("Name", "name", sort="name"),
        Column("Currency", "currency", sort="currency", css="col-opt"),
        Column("Lead time (days)", "lead_time_days", sort="lead_time_days", css="num", key="lead_time"),
        Column("Payment terms (days)", "payment_terms_days", sort="payment_terms_days", css="num col-opt",
               key="payment_terms"),
        Column("Email", "email", sort="email", css="col-opt"),
        Column("Status", lambda supplier: "active" if supplier.active else "inactive", sort="active", css="col-opt"),
    )


class SupplierDetailView(ScreenDetailView[Supplier]):
    model = Supplier
    permission_required = "procurement.view_supplier"
    template_name = "procurement/supplier_detail.html"


# --- put-away rules (issue 14, point 5) ---------------------------------------------------------------------------
# Imports here keep this block apart from the suppliers' screens above.
from typing import Any  # noqa: E402

from django import forms  # noqa: E402
from django.contrib import messages  # noqa: E402
from django.db.models import QuerySet  # noqa: E402
from django.http import Http404, HttpRequest, HttpResponse  # noqa: E402
from django.shortcuts import redirect, render  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils.http import urlencode  # noqa: E402
from django.views import View  # noqa: E402

from erp.exceptions import DomainError  # noqa: E402
from erp.scoping import scope_queryset  # noqa: E402
from erp.screens import (  # noqa: E402
    ScreenAccessMixin,
    label_choices,
    model_choice_field,
    put_refusal,
)
from inventory.models import Item  # noqa: E402
from procurement import putaway  # noqa: E402
from procurement.models import PutawayRule  # noqa: E402
from warehouses.models import Location, Warehouse  # noqa: E402
from warehouses.selectors import warehouses_for  # noqa: E402


class PutawayRuleListView(ScreenListView[PutawayRule]):
    """A warehouse's put-away rules (``?warehouse=CODE``; every warehouse in scope without it), by warehouse, then
    the order a receipt fills them in."""

    model = PutawayRule
    title = "Put-away rules"
    permission_required = "procurement.view_putawayrule"
    template_name = "procurement/putaway_rules.html"
    rows_template_name = "procurement/putaway_rule_rows.html"
    search_fields = ("item__sku", "category", "location__code", "warehouse__code")
    search_placeholder = "SKU, category, location or warehouse"
    columns = (
        Column("Warehouse", "warehouse.code", sort="warehouse__code"),
        Column("Priority", "priority", sort="priority", css="num"),
        Column("SKU or category", lambda rule: rule.item.sku if rule.item_id else f"category {rule.category}",
               key="target"),
        Column("Location", "location.code", sort="location__code"),
        Column("Maximum", lambda rule: "" if rule.max_quantity is None else f"{rule.max_quantity.normalize():f}",
               sort="max_quantity", css="num", key="max_quantity"),
        Column("Status", lambda rule: "active" if rule.active else "inactive", sort="active", css="col-opt"),
        Column(""),
    )

    def base_queryset(self) -> QuerySet[PutawayRule]:
        rules = putaway.putaway_rules()
        code = self.request.GET.get("warehouse", "").strip()
        return rules.filter(warehouse__code=code) if code else rules

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(warehouses=warehouses_for(self.request.user).filter(active=True).order_by("code"),
                       chosen_warehouse=self.request.GET.get("warehouse", "").strip(),
                       may_add=self.request.user.has_perm("procurement.add_putawayrule"),
                       may_change=self.request.user.has_perm("procurement.change_putawayrule"))
        return context


class PutawayRuleForm(forms.Form):
    warehouse = forms.ModelChoiceField(queryset=Warehouse.objects.none(), to_field_name="code",
                                       empty_label="Choose the warehouse")
    sku = forms.CharField(label="SKU", max_length=40, required=False,
                          help_text="The SKU the rule is for; or give a category.")
    category = forms.CharField(max_length=100, required=False, help_text="An item category; or give a SKU.")
    location = forms.CharField(max_length=32, help_text="A storage or pick location of the warehouse.")
    priority = forms.IntegerField(min_value=0, max_value=putaway.MAX_PRIORITY, initial=100,
                                  help_text="The lowest is filled first.")
    max_quantity = forms.DecimalField(label="Maximum quantity", max_digits=18, decimal_places=4, required=False,
                                      help_text="Base units of the SKU the location holds; empty for no maximum.")
    active = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_choice_field(self, "warehouse").queryset = warehouses_for(user).filter(active=True).order_by("code")
        label_choices(self, "warehouse", lambda w: f"{w.code} · {w.name}")

    def resolved(self) -> dict[str, Any] | None:
        """The service's arguments from the cleaned form, or None with the unknown codes marked on their fields."""
        data = self.cleaned_data
        warehouse = data["warehouse"]
        sku = (data.get("sku") or "").strip()
        item = Item.objects.filter(sku=sku).first() if sku else None
        if sku and item is None:
            self.add_error("sku", f"No item {sku}.")
        location = Location.objects.filter(warehouse=warehouse, code=data["location"].strip()).first()
        if location is None:
            self.add_error("location", f"{warehouse.code} has no location {data['location'].strip()}.")
        if self.errors:
            return None
        return {"warehouse": warehouse, "location": location, "item": item,
                "category": (data.get("category") or "").strip(), "priority": data["priority"],
                "max_quantity": data.get("max_quantity"), "active": bool(data.get("active"))}


class PutawayRuleFormView(ScreenAccessMixin, View):
    """Add a put-away rule or change one (``putaway_rule_save``); a refusal shows on the form with what was typed."""

    http_method_names = ["get", "post"]

    def get_permission_required(self) -> tuple[str, ...]:
        return ("procurement.change_putawayrule",) if self.kwargs.get("pk") else ("procurement.add_putawayrule",)

    def rule(self) -> PutawayRule | None:
        pk = self.kwargs.get("pk")
        if pk is None:
            return None
        rule = scope_queryset(putaway.putaway_rules(), self.request.user).filter(pk=pk).first()
        if rule is None:
            raise Http404("No such put-away rule in your scope.")
        return rule

    def page(self, form: PutawayRuleForm, rule: PutawayRule | None, status: int = 200) -> HttpResponse:
        return render(self.request, "procurement/putaway_rule_form.html", {"form": form, "rule": rule},
                      status=status)

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        rule = self.rule()
        initial: dict[str, Any] = {"warehouse": request.GET.get("warehouse", "")}
        if rule is not None:
            initial = {"warehouse": rule.warehouse.code, "sku": rule.item.sku if rule.item else "",
                       "category": rule.category, "location": rule.location.code, "priority": rule.priority,
                       "max_quantity": rule.max_quantity, "active": rule.active}
        return self.page(PutawayRuleForm(initial=initial, user=request.user), rule)

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        rule = self.rule()
        form = PutawayRuleForm(request.POST, user=request.user)
        fields = form.resolved() if form.is_valid() else None
        if fields is None:
            return self.page(form, rule, status=400)
        try:
            saved = putaway.putaway_rule_save(actor=request.user, rule=rule, **fields)
        except DomainError as error:
            put_refusal(form, error)
            return self.page(form, rule, status=error.status)
        target = saved.item.sku if saved.item else f"category {saved.category}"
        messages.success(request, f"{saved.warehouse.code}: {target} goes to {saved.location.code} "
                                  f"(priority {saved.priority}).")
        return redirect(f"{reverse('procurement:putaway-rule-list')}?{urlencode({'warehouse': saved.warehouse.code})}")
