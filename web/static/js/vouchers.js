/* The vouchers pages; no inline code (CSP).
 *
 * - "New batch" and "Revoke" fetch their form with htmx into #voucher-modal-body; the modal opens
 *   when the form arrives and stays open while the server answers with errors (4xx fragments are
 *   swapped like 2xx, see admin.js); a success answers HX-Redirect, a full page load.
 */
(function () {
  "use strict";

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "voucher-modal-body" || !window.bootstrap) return;
    var modal = document.getElementById("voucher-modal");
    if (!modal) return; // the form is a page of its own (voucher_action.html)
    window.bootstrap.Modal.getOrCreateInstance(modal).show();
    var first = target.querySelector(".is-invalid") || target.querySelector("input:not([type=hidden]),select");
    if (first) first.focus();
  });
})();
