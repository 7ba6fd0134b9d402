/* Admin and setup wizard: small behaviours, no inline code (CSP: script-src 'self').
 *
 * - CSRF: htmx requests carry the token from <meta name="csrf-token"> as X-CSRFToken (set as
 *   hx-headers on <body>); plain forms carry it as the hidden _csrf_token field already.
 * - [data-confirm] on a form (or a submit button) asks before submitting.
 * - [data-copy="#id"] copies the text of an element; [data-reveal="#id"] shows/hides a password.
 * - htmx: fragments answering 4xx (form errors) are swapped in like 2xx.
 */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function setHtmxHeaders() {
    var token = csrfToken();
    if (token && document.body) {
      document.body.setAttribute("hx-headers", JSON.stringify({ "X-CSRFToken": token }));
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setHtmxHeaders);
  } else {
    setHtmxHeaders();
  }

  if (window.htmx) {
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "4..", swap: true, error: false },
      { code: "...", swap: false, error: true },
    ];
  }

  document.addEventListener("htmx:sendError", function (event) {
    var target = event.detail && event.detail.target;
    if (target) {
      target.innerHTML = "";
      var alert = document.createElement("div");
      alert.className = "alert alert-danger mb-0";
      alert.textContent = "Cannot reach the box. Check the connection and try again.";
      target.appendChild(alert);
    }
  });

  // Ask before destructive actions.
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      var submitter = event.submitter;
      var question =
        (submitter && submitter.getAttribute("data-confirm")) || (form && form.getAttribute("data-confirm"));
      if (question && !window.confirm(question)) {
        event.preventDefault();
        event.stopPropagation();
      }
    },
    true
  );

  document.addEventListener("click", function (event) {
    var el = event.target && event.target.closest ? event.target.closest("[data-copy],[data-reveal]") : null;
    if (!el) return;
    if (el.hasAttribute("data-copy")) {
      var source = document.querySelector(el.getAttribute("data-copy"));
      if (!source) return;
      var value = source.value !== undefined && source.tagName === "INPUT" ? source.value : source.innerText;
      var done = function () {
        var label = el.querySelector("[data-copy-label]");
        if (label) {
          var before = label.textContent;
          label.textContent = "Copied";
          window.setTimeout(function () {
            label.textContent = before;
          }, 1600);
        }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(value.trim()).then(done, function () {});
      } else {
        var area = document.createElement("textarea");
        area.value = value.trim();
        area.setAttribute("readonly", "");
        area.style.position = "fixed";
        area.style.opacity = "0";
        document.body.appendChild(area);
        area.select();
        try {
          document.execCommand("copy");
          done();
        } catch (e) {
          /* the text stays selectable on the page */
        }
        document.body.removeChild(area);
      }
    } else {
      var input = document.querySelector(el.getAttribute("data-reveal"));
      if (!input) return;
      var show = input.getAttribute("type") === "password";
      input.setAttribute("type", show ? "text" : "password");
      el.setAttribute("aria-pressed", show ? "true" : "false");
      var icon = el.querySelector(".bi");
      if (icon) {
        icon.classList.toggle("bi-eye", !show);
        icon.classList.toggle("bi-eye-slash", show);
      }
    }
  });

  // Close the phone menu after picking an entry (the page changes anyway; this is for anchors).
  document.addEventListener("click", function (event) {
    var link = event.target && event.target.closest ? event.target.closest("#hs-sidebar a[href^='#']") : null;
    if (link && window.bootstrap) {
      var panel = window.bootstrap.Offcanvas.getInstance(document.getElementById("hs-sidebar"));
      if (panel) panel.hide();
    }
  });
})();
