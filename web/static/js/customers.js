/* The customer page (hotspot.admin.customers_page); no inline code (CSP).
 *
 * "Block" fetches its form with htmx into #customer-action-body; the modal opens when the form
 * arrives and stays open while the server answers with errors (a success answers HX-Redirect).
 */
(function () {
  "use strict";

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "customer-action-body" || !window.bootstrap) return;
    var modal = document.getElementById("customer-action-modal");
    if (!modal) return;
    window.bootstrap.Modal.getOrCreateInstance(modal).show();
    var first = target.querySelector("input:not([type=hidden]),select");
    if (first) first.focus();
  });
})();
