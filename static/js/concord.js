/* Concord's page behaviours, for every screen (loaded by base.html).
 *
 * 1. Scanner-safe forms (a form with data-scanner-form): a barcode scanner types a code and sends Enter. Enter
 *    in a field moves to the next field; only Enter in the last field submits, and then only when every
 *    required field is filled (else the first empty one gets the focus). No form goes off half-filled.
 * 2. A submit button is disabled while its request is in flight, on plain forms and htmx requests alike, so a
 *    second click cannot send the command twice. It is disabled just after the submit event, once the
 *    browser has read the form (a disabled button's name and value would not be sent).
 */
(function () {
  "use strict";

  function fieldsOf(form) {
    return Array.prototype.filter.call(form.elements, function (element) {
      var tag = element.tagName;
      return (tag === "INPUT" || tag === "SELECT") && element.type !== "hidden" && element.type !== "submit" &&
        element.type !== "button" && !element.disabled && element.getClientRects().length > 0;
    });
  }

  function isEmpty(field) {
    return field.required && !String(field.value || "").trim();
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.defaultPrevented || event.isComposing) { return; }
    var field = event.target;
    var form = field && field.form;
    if (!form || !form.hasAttribute("data-scanner-form")) { return; }
    var fields = fieldsOf(form);
    var index = fields.indexOf(field);
    if (index === -1) { return; }  // a button or a textarea: Enter does what it always does
    if (index < fields.length - 1) {
      event.preventDefault();
      var next = fields[index + 1];
      next.focus();
      if (typeof next.select === "function" && next.tagName === "INPUT") { next.select(); }
      return;
    }
    var missing = fields.filter(isEmpty)[0];
    if (missing) {
      event.preventDefault();
      missing.focus();
    }
  });

  function buttonsOf(form) {
    return form ? form.querySelectorAll('button[type="submit"], button:not([type]), input[type="submit"]') : [];
  }

  function setBusy(form, busy) {
    Array.prototype.forEach.call(buttonsOf(form), function (button) {
      if (busy) {
        if (button.disabled) { return; }
        button.disabled = true;
        button.setAttribute("data-busy", "");
        button.setAttribute("aria-busy", "true");
      } else if (button.hasAttribute("data-busy")) {
        button.disabled = false;
        button.removeAttribute("data-busy");
        button.removeAttribute("aria-busy");
      }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("hx-get") || form.hasAttribute("hx-post")) { return; }  // htmx's events below
    if (form.method && form.method.toLowerCase() === "get") { return; }  // a filter or a search: no command
    setTimeout(function () { if (!event.defaultPrevented) { setBusy(form, true); } }, 0);
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var element = event.detail && event.detail.elt;
    if (element && element.tagName === "FORM" && (element.getAttribute("method") || "").toLowerCase() !== "get" &&
        !element.hasAttribute("hx-get")) {
      setBusy(element, true);
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var element = event.detail && event.detail.elt;
    if (element && element.tagName === "FORM") { setBusy(element, false); }
  });

  // Back to a page from the browser's cache: its buttons were disabled by the submit that left it.
  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(document.forms, function (form) { setBusy(form, false); });
  });
})();
