/* Setup wizard behaviours (CSP-safe, registered for Alpine's CSP build on alpine:init).
 *
 * - Alpine component "business": choosing a country suggests its currency and time zone,
 *   until the owner changes those by hand.
 * - [data-show-when="field=value"] shows a form group only while another field has that value
 *   (M-Pesa's Daraja address appears for the custom environment).
 */
(function () {
  "use strict";

  document.addEventListener("alpine:init", function () {
    window.Alpine.data("business", function () {
      return {
        touched: false,
        countryChanged: function (event) {
          var option = event.target.selectedOptions ? event.target.selectedOptions[0] : null;
          if (!option || this.touched) return;
          var form = event.target.form;
          var currency = option.getAttribute("data-currency");
          var zone = option.getAttribute("data-timezone");
          if (currency && form.elements.currency) form.elements.currency.value = currency;
          if (zone && form.elements.timezone) form.elements.timezone.value = zone;
        },
        markTouched: function () {
          this.touched = true;
        },
      };
    });
  });

  function refresh(form) {
    var groups = form.querySelectorAll("[data-show-when]");
    for (var i = 0; i < groups.length; i++) {
      var rule = groups[i].getAttribute("data-show-when").split("=");
      var field = form.elements[rule[0]];
      var value = field ? field.value : "";
      var visible = value === rule[1];
      groups[i].hidden = !visible;
      var inputs = groups[i].querySelectorAll("input,select,textarea");
      for (var j = 0; j < inputs.length; j++) inputs[j].disabled = !visible;
    }
  }

  function refreshAll() {
    var forms = document.querySelectorAll("form");
    for (var i = 0; i < forms.length; i++) {
      if (forms[i].querySelector("[data-show-when]")) refresh(forms[i]);
    }
  }

  document.addEventListener("change", function (event) {
    var form = event.target && event.target.form;
    if (form && form.querySelector("[data-show-when]")) refresh(form);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", refreshAll);
  } else {
    refreshAll();
  }
})();
