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

  // The light/dark toggle (theme.js) is remembered for the signed-in admin on the server too.
  document.addEventListener("hotspot:theme", function (event) {
    var token = csrfToken();
    if (!token || !document.querySelector(".hs-admin")) return; // not signed in (sign-in page)
    var body = new URLSearchParams({ theme: event.detail });
    fetch("/admin/account/theme", {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": token },
    }).catch(function () {
      /* kept in this browser anyway */
    });
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

  // "Try again" on the offline page (hotspot.admin.pwa).
  document.addEventListener("click", function (event) {
    var link = event.target && event.target.closest ? event.target.closest("[data-reload]") : null;
    if (link) {
      event.preventDefault();
      window.location.reload();
    }
  });

  // Installable app: the worker lives at /admin/sw.js (scope /admin). Browsers allow workers on
  // HTTPS and on localhost only; elsewhere the dashboard simply works without one.
  if ("serviceWorker" in navigator && window.isSecureContext !== false) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/admin/sw.js", { scope: "/admin" }).catch(function () {});
    });
  }

  // In-app notifications (hotspot.admin.notices): new payments, routers down or back, suspicious
  // activity, sessions about to end. Built with textContent: nothing from the server is HTML.
  var ICONS = {
    success: "bi-check-circle-fill",
    info: "bi-info-circle-fill",
    warning: "bi-exclamation-triangle-fill",
    danger: "bi-x-octagon-fill",
  };
  var MAX_TOASTS = 4;

  function showNotice(notice) {
    var box = document.getElementById("hs-toasts");
    if (!box || !window.bootstrap) return;
    while (box.children.length >= MAX_TOASTS) box.removeChild(box.firstElementChild);
    var level = ICONS[notice.level] ? notice.level : "info";
    var toast = document.createElement("div");
    toast.className = "toast hs-toast hs-toast-" + level;
    toast.setAttribute("role", level === "danger" ? "alert" : "status");
    toast.setAttribute("aria-atomic", "true");
    var head = document.createElement("div");
    head.className = "toast-header";
    var icon = document.createElement("i");
    icon.className = "bi " + ICONS[level] + " me-2";
    icon.setAttribute("aria-hidden", "true");
    var title = document.createElement("strong");
    title.className = "me-auto";
    title.textContent = notice.title || "Notice";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "toast");
    close.setAttribute("aria-label", "Close");
    head.appendChild(icon);
    head.appendChild(title);
    head.appendChild(close);
    var body = document.createElement("div");
    body.className = "toast-body";
    var text = document.createElement("span");
    text.textContent = notice.text || "";
    body.appendChild(text);
    if (notice.href && /^\/[A-Za-z0-9]/.test(notice.href)) { // a path on this box, never //host or /\host
      var link = document.createElement("a");
      link.href = notice.href;
      link.className = "ms-2";
      link.textContent = "Open";
      body.appendChild(link);
    }
    toast.appendChild(head);
    toast.appendChild(body);
    box.appendChild(toast);
    toast.addEventListener("hidden.bs.toast", function () {
      if (toast.parentNode) toast.parentNode.removeChild(toast);
    });
    new window.bootstrap.Toast(toast, { delay: level === "danger" ? 15000 : 8000 }).show();
  }

  function followNotices() {
    if (!document.getElementById("hs-toasts") || !window.EventSource) return;
    var source = new EventSource("/admin/notices/events");
    source.addEventListener("notice", function (event) {
      try {
        showNotice(JSON.parse(event.data));
      } catch (e) {
        /* a notice that does not parse is dropped */
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", followNotices);
  else followNotices();
})();
