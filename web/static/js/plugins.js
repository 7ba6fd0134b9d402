/* The plugins page; no inline code (CSP).
 *
 * - Configure fetches the plugin's form with htmx into #plugin-modal-body; the modal opens when
 *   it arrives and stays open while the server answers with errors.
 */
(function () {
  "use strict";

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "plugin-modal-body" || !window.bootstrap) return;
    var modal = document.getElementById("plugin-modal");
    if (!modal) return;
    window.bootstrap.Modal.getOrCreateInstance(modal).show();
    var choice = target.querySelector("select");
    if (choice) choice.dispatchEvent(new Event("change", { bubbles: true })); // data-show-when (setup.js)
    var first = target.querySelector("input:not([type=hidden]),select,textarea");
    if (first) first.focus();
  });
})();
