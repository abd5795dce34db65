"""The confirm step in front of every destructive screen action (cancel an order, a pick list, a shipment, a
return; withdraw a deviation): nothing destructive happens in one click.

A ``ConfirmStepView`` answers a GET on the action's URL with a page that names what will be undone, a reason
field where the service takes one, a destructive button and a way back. Its POST acts only when it came
through that page (``confirm=yes``); a POST without it shows the page again and changes nothing. A bad reason
is an error beside the field (400) and changes nothing; a refusal of the service is a message on the
document's page. The object is looked up in the user's scope, so another scope's is a 404.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django import forms
from django.contrib import messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from erp.exceptions import DomainError, ValidationFailed
from erp.screens import ScreenAccessMixin

T = TypeVar("T", bound=Model)

REASON_MAX = 500


class ConfirmForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=REASON_MAX, required=False, strip=True,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, takes_reason: bool, reason_required: bool, reason_help: str = "",
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not takes_reason:
            del self.fields["reason"]
            return
        field = self.fields["reason"]
        field.required = reason_required
        field.help_text = reason_help or (f"Kept with the document; at most {REASON_MAX} characters."
                                          if reason_required else
                                          f"Optional; kept with the document; at most {REASON_MAX} characters.")
        if reason_required:
            field.error_messages["required"] = "Give a reason."
        field.error_messages["max_length"] = f"At most {REASON_MAX} characters (this is %(show_value)d)."


class ConfirmStepView(ScreenAccessMixin, View, Generic[T]):
    """Subclasses say which object (in the user's scope), what the action undoes, and run the service."""

    http_method_names = ["get", "post"]
    template_name = "screens/confirm.html"
    button_label = "Yes, do it"
    back_label = "No, go back"
    takes_reason = False
    reason_required = False
    reason_help = ""

    def get_target(self, pk: int) -> T:
        raise NotImplementedError

    def question(self, target: T) -> str:
        """The page's heading, a question naming the document: ``Cancel order SO-000123?``."""
        raise NotImplementedError

    def undoes(self, target: T) -> list[str]:
        """What the action will undo, one sentence each, naming documents, quantities and places."""
        raise NotImplementedError

    def back_url(self, target: T) -> str:
        raise NotImplementedError

    def perform(self, target: T, reason: str) -> str:
        """Run the service; the sentence saying what happened. A ``DomainError`` is shown as refused."""
        raise NotImplementedError

    def done_url(self, target: T) -> str:
        return self.back_url(target)

    def refusal(self, error: DomainError) -> str:
        return error.message

    def form(self, data: Any = None) -> ConfirmForm:
        return ConfirmForm(data, takes_reason=self.takes_reason, reason_required=self.reason_required,
                           reason_help=self.reason_help)

    def page(self, target: T, form: ConfirmForm, *, unconfirmed: bool = False, status: int = 200) -> HttpResponse:
        return render(self.request, self.template_name, {
            "target": target, "question": self.question(target), "undoes": self.undoes(target), "form": form,
            "action": self.request.path, "button_label": self.button_label, "back_label": self.back_label,
            "back_url": self.back_url(target), "unconfirmed": unconfirmed,
        }, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self.page(self.get_target(pk), self.form())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        target = self.get_target(pk)
        if request.POST.get("confirm") != "yes":  # not through the confirm step: ask, change nothing
            return self.page(target, self.form(), unconfirmed=True)
        form = self.form(request.POST)
        if not form.is_valid():
            return self.page(target, form, status=400)
        try:
            done = self.perform(target, form.cleaned_data.get("reason", ""))
        except ValidationFailed as error:
            detail = error.detail if isinstance(error.detail, dict) else {}
            if "reason" in detail and "reason" in form.fields:
                for problem in detail["reason"]:
                    form.add_error("reason", str(problem))
                return self.page(target, form, status=400)
            messages.error(request, self.refusal(error))
            return redirect(self.back_url(target))
        except DomainError as error:
            messages.error(request, self.refusal(error))
            return redirect(self.back_url(target))
        messages.success(request, done)
        return redirect(self.done_url(target))
