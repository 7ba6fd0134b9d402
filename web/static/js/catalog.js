/* Packages and promos pages (no inline code: CSP).
 *
 * - A create/edit/usage button fetches its content with htmx into #catalog-modal-body; the
 *   modal opens when it arrives and stays open while the server answers with form errors
 *   (a saved form answers HX-Redirect and the page reloads with its message).
 * - [data-show-for="name=value"] inside a form shows only while that field has that value
 *   (the discount form's bundle and repeat fields, a promo's percent or amount).
 */
(function () {
  "use strict";

  function syncShown(root) {
    var parts = root.querySelectorAll("[data-show-for]");
    parts.forEach(function (part) {
      var rule = part.getAttribute("data-show-for").split("=");
      var form = part.closest("form");
      if (!form || rule.length !== 2) return;
      var chosen = form.querySelector('[name="' + rule[0] + '"]:checked') || form.querySelector('select[name="' + rule[0] + '"]');
      var shown = chosen ? chosen.value === rule[1] : true;
      part.hidden = !shown;
    });
  }

  // afterSettle, not afterSwap: htmx gives a swapped-in element that keeps its id the old
  // element's classes until it settles, so .is-invalid is only there now.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "catalog-modal-body" || !window.bootstrap) return;
    syncShown(target);
    var modal = document.getElementById("catalog-modal");
    if (!modal) return;
    var focus = function () {
      var first =
        target.querySelector(".is-invalid") ||
        target.querySelector("input:not([type=hidden]):not([readonly]),select");
      if (first) first.focus();
    };
    if (modal.classList.contains("show")) {
      focus(); // errors in an open form: straight to the first field to fix
    } else {
      modal.addEventListener("shown.bs.modal", focus, { once: true }); // after Bootstrap's own focus
      window.bootstrap.Modal.getOrCreateInstance(modal).show();
    }
  });

  document.addEventListener("change", function (event) {
    var form = event.target && event.target.closest ? event.target.closest("form") : null;
    if (form && form.querySelector("[data-show-for]")) syncShown(form);
  });

  function start() {
    syncShown(document);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
