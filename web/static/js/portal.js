/* Captive portal: the payment modal (Alpine CSP build), the live status (EventSource, with a
 * polling fallback for proxies that buffer streams), countdowns, the hand-off to the router's
 * login page, and the service worker. CSP: no inline code, no eval; loaded after htmx, before
 * Alpine (components are registered on alpine:init). */
(function () {
  "use strict";

  var SSE_GRACE_MS = 4000; // no event by then: the stream is buffered somewhere, poll instead
  var POLL_MS = 3000;
  var RESYNC_MS = 60000; // while online: time and data left
  var TERMINAL = { online: true, failed: true, ended: true };
  var QUOTE_DEBOUNCE_MS = 600; // typing a promo code: price it once the typing pauses
  var MIN_PROMO = 3; // promo codes have 3+ letters and digits: shorter is still being typed

  var follow = { id: null, state: null, updated: 0, es: null, grace: 0, poll: 0, html: "" };

  function $(selector, root) {
    return (root || document).querySelector(selector);
  }

  function fire(name) {
    window.dispatchEvent(new CustomEvent(name));
  }

  // --- htmx: 422 carries the form with its errors; other failures get a plain message ----------

  if (window.htmx) {
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
      { code: "...", swap: false },
    ];
  }

  function formAlert(elt, text) {
    var form = elt && elt.closest ? elt.closest("form") : null;
    var box = form && form.querySelector("[data-form-alert]");
    if (!box && form) {
      var panel = form.closest(".hs-panel");
      box = panel && panel.querySelector("[data-form-alert]");
    }
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    formAlert(
      event.detail.elt,
      status === 429
        ? "Too many tries in a short time. Please wait a minute and try again."
        : "Something went wrong on our side. Please try again."
    );
  });

  document.addEventListener("htmx:sendError", function (event) {
    formAlert(event.detail.elt, "Can't reach the WiFi box. Check you're still on the WiFi, then try again.");
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "pay-status") track(false);
  });

  // A field came back with an error: put the cursor there (the keyboard opens on phones).
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.detail.xhr || event.detail.xhr.status !== 422) return;
    var bad =
      $("#pay-modal:not([hidden]) input.is-invalid") ||
      (event.detail.elt && event.detail.elt.id === "voucher-form" && $("#voucher-form input.is-invalid")) ||
      $("#buy-form input.is-invalid") ||
      $("#buy-form .hs-pkgs.is-invalid input");
    if (bad) bad.focus();
  });

  // --- countdowns: tick every second from remaining seconds, re-synced by every update ---------

  function clock(seconds) {
    var d = Math.floor(seconds / 86400);
    var h = Math.floor((seconds % 86400) / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    var mm = (m < 10 ? "0" : "") + m;
    var ss = (s < 10 ? "0" : "") + s;
    if (d) return d + "d " + (h < 10 ? "0" : "") + h + ":" + mm + ":" + ss;
    return h ? h + ":" + mm + ":" + ss : m + ":" + ss;
  }

  function armCountdowns(seconds) {
    var now = Date.now();
    var nodes = document.querySelectorAll("[data-countdown]");
    for (var i = 0; i < nodes.length; i++) {
      if (typeof seconds === "number") nodes[i].setAttribute("data-countdown", String(seconds));
      var left = parseInt(nodes[i].getAttribute("data-countdown"), 10);
      nodes[i]._hsEnd = isNaN(left) ? null : now + left * 1000;
    }
  }

  setInterval(function () {
    var now = Date.now();
    var nodes = document.querySelectorAll("[data-countdown]");
    var expired = false;
    for (var i = 0; i < nodes.length; i++) {
      if (!nodes[i]._hsEnd) continue;
      var left = Math.max(0, Math.round((nodes[i]._hsEnd - now) / 1000));
      var text = clock(left);
      if (nodes[i].textContent !== text) nodes[i].textContent = text;
      if (left === 0) {
        nodes[i]._hsEnd = null;
        expired = true;
      }
    }
    if (expired && follow.id) poll(0);
  }, 1000);

  // --- following an order --------------------------------------------------------------------

  function statusUrl(id, what) {
    return "/portal/orders/" + encodeURIComponent(id) + "/" + what;
  }

  function stopStream() {
    if (follow.es) follow.es.close();
    follow.es = null;
    clearTimeout(follow.grace);
  }

  function stopAll() {
    stopStream();
    clearTimeout(follow.poll);
    follow.poll = 0;
  }

  function poll(delay) {
    clearTimeout(follow.poll);
    var id = follow.id;
    follow.poll = setTimeout(function () {
      follow.poll = 0;
      fetch(statusUrl(id, "status"), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      })
        .then(function (response) {
          return response.ok ? response.json() : null;
        })
        .then(function (data) {
          if (id !== follow.id) return;
          if (data) receive(data);
          if (follow.poll) return; // a newer state already scheduled the next one
          if (!TERMINAL[follow.state]) poll(POLL_MS);
          else if (follow.state === "online") poll(RESYNC_MS);
        })
        .catch(function () {
          if (id !== follow.id || follow.poll) return;
          if (!TERMINAL[follow.state]) poll(POLL_MS * 2);
          else if (follow.state === "online") poll(RESYNC_MS);
        });
    }, delay);
  }

  function stream() {
    if (follow.es || !window.EventSource) {
      if (!window.EventSource) poll(0);
      return;
    }
    var id = follow.id;
    var es = new EventSource(statusUrl(id, "events"));
    follow.es = es;
    es.addEventListener("status", function (event) {
      clearTimeout(follow.grace);
      try {
        receive(JSON.parse(event.data));
      } catch (e) {
        /* a broken event: the next one, or polling, will do */
      }
    });
    es.onerror = function () {
      if (follow.es !== es) return;
      stopStream();
      if (!TERMINAL[follow.state]) poll(POLL_MS);
    };
    clearTimeout(follow.grace);
    follow.grace = setTimeout(function () {
      if (follow.es === es && !follow.poll) poll(0);
    }, SSE_GRACE_MS);
  }

  function receive(data) {
    if (!data || data.order_id !== follow.id || data.updated_at < follow.updated) return;
    follow.updated = data.updated_at;
    var box = $("#pay-status");
    var changed = data.state !== follow.state;
    // Same state: keep the panel (and anything typed in it); only the numbers move.
    if (box && data.html && !changed && data.state === "online") refreshData(box, data.html);
    if (box && data.html && changed && data.html !== follow.html) {
      follow.html = data.html;
      box.innerHTML = data.html;
      if (window.htmx) window.htmx.process(box);
      var banner = $("#pay-banner");
      if (banner && data.banner) banner.innerHTML = data.banner;
    }
    armCountdowns(typeof data.remaining_seconds === "number" ? data.remaining_seconds : undefined);
    if (changed) track(false);
  }

  function refreshData(box, html) {
    var current = box.querySelector(".hs-data");
    if (!current) return;
    var fresh = document.createElement("template");
    fresh.innerHTML = html;
    var next = fresh.content.querySelector(".hs-data");
    if (next) current.replaceWith(next);
  }

  // Called on load, after HTMX put a new panel in place, and after a live update changed it.
  function track(initial) {
    var panel = $("#pay-status .hs-panel");
    if (!panel) return;
    var id = panel.getAttribute("data-order");
    var state = panel.getAttribute("data-state");
    var updated = parseFloat(panel.getAttribute("data-updated")) || 0;
    if (id !== follow.id) {
      stopAll();
      follow.id = id;
      follow.state = null;
      follow.updated = 0;
    }
    var previous = follow.state;
    follow.state = state;
    follow.updated = Math.max(follow.updated, updated);
    armCountdowns();
    if (!initial && previous !== state) fire("portal-open");

    if (!TERMINAL[state]) {
      stream();
    } else {
      stopAll();
      if (state === "online") poll(RESYNC_MS);
    }

    var connect = panel.getAttribute("data-connect");
    var becameOnline = previous && previous !== "online" && state === "online";
    if (connect && (panel.hasAttribute("data-auto-connect") || becameOnline)) {
      setTimeout(function () {
        window.location.assign(connect);
      }, 800);
    }
  }

  document.addEventListener("visibilitychange", function () {
    // Back from the M-Pesa prompt: the stream may have been dropped while hidden.
    if (document.visibilityState === "visible" && follow.id && !TERMINAL[follow.state]) {
      stopStream();
      stream();
      poll(0);
    }
  });

  // --- the modal keeps the keyboard -----------------------------------------------------------
  // Tab and Shift+Tab cycle inside the open payment modal (aria-modal: the page behind is
  // inert for screen readers, so focus must not wander there); Escape closes it.
  var FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), [tabindex="0"]';
  document.addEventListener("keydown", function (event) {
    var dialog = document.getElementById("pay-modal");
    if (!dialog || dialog.hidden) return;
    if (event.key === "Escape") {
      var close = dialog.querySelector(".hs-modal-close");
      if (close) close.click();
      return;
    }
    if (event.key !== "Tab") return;
    var items = Array.prototype.filter.call(dialog.querySelectorAll(FOCUSABLE), function (el) {
      return el.offsetParent !== null;
    });
    if (!items.length) return;
    var first = items[0];
    var last = items[items.length - 1];
    var inside = dialog.contains(document.activeElement);
    if (event.shiftKey && (document.activeElement === first || !inside)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
      event.preventDefault();
      first.focus();
    }
  });

  // --- Alpine components -------------------------------------------------------------------

  document.addEventListener("alpine:init", function () {
    var Alpine = window.Alpine;

    Alpine.data("portal", function () {
      return {
        open: false,
        init: function () {
          this.open = this.$el.getAttribute("data-open") === "true";
          this.lock();
          this.$watch("open", this.lock.bind(this));
        },
        lock: function () {
          document.body.classList.toggle("modal-open", this.open);
          if (this.open) {
            var dialog = document.getElementById("pay-modal");
            this.$nextTick(function () {
              var title = dialog && dialog.querySelector("#pay-title");
              if (title) {
                title.setAttribute("tabindex", "-1");
                title.focus({ preventScroll: true });
              }
            });
          }
        },
        closed: function () {
          return !this.open;
        },
        show: function () {
          this.open = true;
        },
        close: function () {
          this.open = false;
        },
        buyMore: function () {
          this.open = false;
          var form = document.getElementById("buy-form");
          if (form) {
            form.scrollIntoView({ behavior: "smooth", block: "start" });
            var first = form.querySelector("input[name=package_id]:checked, input[name=package_id]");
            if (first) first.focus({ preventScroll: true });
          }
        },
      };
    });

    // The Pay button shows what will be charged: the package's price, or the total of the
    // price preview (POST /portal/quote: promo code, automatic discounts) once it came back.
    Alpine.data("buyForm", function () {
      return {
        price: "",
        total: "",
        timer: 0,
        seq: 0,
        init: function () {
          var checked = this.$el.querySelector("input[name=package_id]:checked");
          this.price = checked ? checked.getAttribute("data-price") || "" : "";
          var quote = this.$el.querySelector("#quote");
          this.total = (quote && quote.getAttribute("data-quote-total")) || "";
          var promo = this.$el.querySelector("input[name=promo]");
          if (checked && promo && promo.value.trim() && !this.total) this.requote(0);
        },
        choose: function (event) {
          var input = event && event.target;
          if (input && input.name === "package_id") {
            this.price = input.getAttribute("data-price") || "";
            this.total = "";
            this.requote(0);
          } else if (input && input.name === "phone") {
            this.requote(0);
          }
        },
        typed: function (event) {
          var input = event && event.target;
          if (input && (input.name === "promo" || input.name === "phone")) this.requote(QUOTE_DEBOUNCE_MS);
        },
        requote: function (delay) {
          var self = this;
          clearTimeout(self.timer);
          self.timer = setTimeout(function () {
            self.quote();
          }, delay);
        },
        quote: function () {
          var form = this.$el;
          if (!form.querySelector("input[name=package_id]:checked")) return;
          var promo = form.querySelector("input[name=promo]");
          var code = promo ? promo.value.replace(/[\s-]+/g, "") : "";
          if (code.length > 0 && code.length < MIN_PROMO) return; // still being typed
          var self = this;
          var seq = ++self.seq;
          fetch("/portal/quote", {
            method: "POST",
            body: new FormData(form),
            credentials: "same-origin",
            headers: { "HX-Request": "true" },
          })
            .then(function (response) {
              return response.ok ? response.text() : null;
            })
            .then(function (html) {
              if (html === null || seq !== self.seq) return;
              var box = form.querySelector("#quote");
              if (!box) return;
              var fresh = document.createElement("template");
              fresh.innerHTML = html.trim();
              var next = fresh.content.querySelector("#quote");
              if (!next) return;
              box.replaceWith(next);
              self.total = next.getAttribute("data-quote-total") || "";
              if (promo) {
                var refused = !!next.querySelector("#promo-error");
                promo.classList.toggle("is-invalid", refused);
                if (refused) promo.setAttribute("aria-invalid", "true");
                else promo.removeAttribute("aria-invalid");
              }
            })
            .catch(function () {
              /* offline for a moment: the order is priced on the server anyway */
            });
        },
        label: function () {
          var price = this.total || this.price;
          return price ? "Pay " + price + " with M-Pesa" : "Pay with M-Pesa";
        },
      };
    });
  });

  // "Have a voucher?" in the hero: scroll to the card and put the cursor in the code field.
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("[data-voucher-link]") : null;
    var field = link && document.getElementById("voucher-code");
    if (!field) return;
    event.preventDefault();
    field.scrollIntoView({ behavior: "smooth", block: "center" });
    field.focus({ preventScroll: true });
  });

  // --- start --------------------------------------------------------------------------------

  function start() {
    var login = $("form[data-autosubmit]");
    if (login) {
      setTimeout(function () {
        login.submit();
      }, 400);
      return;
    }
    track(true);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  if ("serviceWorker" in navigator && window.isSecureContext !== false) {
    window.addEventListener("load", function () {
      // After the page has settled: the first load on a slow link is for the customer.
      setTimeout(function () {
        navigator.serviceWorker.register("/portal/sw.js", { scope: "/portal" }).catch(function () {});
      }, 3000);
    });
  }
})();
