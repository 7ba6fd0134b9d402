/* Portal service worker (scope /portal). The vendored CSS/JS come from the cache first (they
 * change only with an upgrade, which renames the cache); pages and the package list come from
 * the network first, the cache only when the box is out of reach; an order's status and its
 * event stream are never cached. Precaching reuses what the first visit already downloaded. */
"use strict";
// hotspotCache (install, activate, cache-first) is appended when served: hotspot.http.pwa

var CACHE = "hotspot-portal-__HOTSPOT_VERSION__";
var BUSINESS = "__BUSINESS_NAME__"; // HTML-escaped by the server
var SHELL = [
  "/static/vendor/bootstrap/bootstrap.min.css",
  "/static/vendor/htmx/htmx.min.js",
  "/static/vendor/alpinejs-csp/cdn.min.js",
  "/static/css/hotspot.css",
  "/static/css/portal.css",
  "/static/js/theme.js",
  "/static/js/portal.js",
  "/static/img/logo.svg",
];

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, function (c) {
    return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
  });
}

// Built here rather than downloaded: installing the worker costs the customer no extra page.
// "Try again" reloads the page that failed, query and all: before a purchase the router's
// redirect (MAC, IP, login link) lives only in the portal's URL, not in a session.
function offlinePage(again) {
  var html =
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    "<title>Offline &middot; " + BUSINESS + " WiFi</title>" +
    '<link rel="stylesheet" href="/static/vendor/bootstrap/bootstrap.min.css">' +
    '<link rel="stylesheet" href="/static/css/hotspot.css"><link rel="stylesheet" href="/static/css/portal.css">' +
    '<script src="/static/js/theme.js"></script></head><body class="hs-body">' +
    '<header class="hs-phead"><div class="hs-wrap"><span class="hs-pbrand">' +
    '<img src="/static/img/logo.svg" alt="" width="36" height="36"><span class="hs-pbrand-name">' + BUSINESS +
    "</span></span></div></header>" +
    '<main class="hs-wrap py-5 text-center"><h1 class="hs-panel-title">You&#39;re not connected to the WiFi</h1>' +
    '<p class="hs-panel-text">Join the ' + BUSINESS + " WiFi network, then try again.</p>" +
    '<a class="btn btn-brand btn-lg hs-pay" href="' + escapeHtml(again) + '">Try again</a></main></body></html>';
  return new Response(html, {
    headers: {
      "Content-Type": "text/html; charset=utf-8",
      "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'",
      "Cache-Control": "no-store",
    },
  });
}

var cache = hotspotCache(CACHE, "hotspot-portal-", SHELL);

// `offline`: the page to retry when the box is out of reach (a navigation), else undefined.
function networkFirst(request, keep, offline) {
  return fetch(request)
    .then(function (response) {
      return keep ? cache.keep(request, response) : response;
    })
    .catch(function () {
      return caches.match(request).then(function (hit) {
        if (hit) return hit;
        return offline ? offlinePage(offline) : Response.error();
      });
    });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var path = url.pathname;

  // Live data: straight to the network, never stored.
  if (path.indexOf("/portal/orders/") === 0 || path.indexOf("/api/v1/portal/orders") === 0) return;
  if (path === "/portal/sw.js") return;

  if (path.indexOf("/static/vendor/") === 0) {
    event.respondWith(cache.cacheFirst(request));
  } else if (path.indexOf("/static/") === 0 || path === "/api/v1/portal/packages") {
    event.respondWith(networkFirst(request, true));
  } else if (request.mode === "navigate") {
    // Pages are personal (no-store): not kept; a built-in page stands in when the box is away.
    var again = path.indexOf("/portal") === 0 ? path + url.search : "/portal";
    event.respondWith(networkFirst(request, false, again));
  }
});
