/* Light / dark colour mode (Bootstrap 5.3 `data-bs-theme`).
 * Loaded in <head> without `defer` so the theme is set before the first paint.
 * Follows the system's prefers-color-scheme until the visitor picks one with a
 * [data-theme-toggle] button; the choice is remembered in localStorage. No inline handlers:
 * one delegated click listener, so buttons swapped in later by htmx work too. */
(function () {
  "use strict";

  var KEY = "hotspot-theme";
  var root = document.documentElement;
  var media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function stored() {
    var saved = root.getAttribute("data-theme-saved"); // the signed-in admin's choice (server)
    if (saved === "light" || saved === "dark") return saved;
    try {
      var value = window.localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : null;
    } catch (e) {
      return null; // storage disabled (private mode, strict settings)
    }
  }

  function preferred() {
    return stored() || (media && media.matches ? "dark" : "light");
  }

  function current() {
    return root.getAttribute("data-bs-theme") === "dark" ? "dark" : "light";
  }

  function syncControls() {
    var theme = current();
    var next = theme === "dark" ? "light" : "dark";
    var buttons = document.querySelectorAll("[data-theme-toggle]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-pressed", theme === "dark" ? "true" : "false");
      buttons[i].setAttribute("aria-label", "Switch to " + next + " theme");
      buttons[i].setAttribute("title", "Switch to " + next + " theme");
    }
    var meta = document.querySelector('meta[name="theme-color"]');
    if (meta) meta.setAttribute("content", theme === "dark" ? "#0b1514" : "#0f766e");
  }

  function apply(theme) {
    root.setAttribute("data-bs-theme", theme);
    syncControls();
  }

  apply(preferred());

  if (media) {
    var onChange = function () {
      if (!stored()) apply(preferred());
    };
    if (media.addEventListener) media.addEventListener("change", onChange);
    else if (media.addListener) media.addListener(onChange);
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    var button = target && target.closest ? target.closest("[data-theme-toggle]") : null;
    if (!button) return;
    var next = current() === "dark" ? "light" : "dark";
    try {
      window.localStorage.setItem(KEY, next);
    } catch (e) {
      /* not remembered, still applied */
    }
    root.setAttribute("data-theme-saved", next);
    apply(next);
    document.dispatchEvent(new CustomEvent("hotspot:theme", { detail: next })); // admin.js saves it
  });

  document.addEventListener("DOMContentLoaded", syncControls);
  document.addEventListener("htmx:afterSettle", syncControls);
})();
