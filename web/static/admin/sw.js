/* Admin service worker (scope /admin): makes the dashboard installable and answers with an
 * offline page when the box is out of reach. The vendored CSS/JS/fonts come from the cache
 * first (they change only with an upgrade, which renames the cache). Admin pages and their
 * data are NEVER stored: they hold customers' phone numbers and money, and a shared or lost
 * phone must not keep them; a failed navigation gets the offline page instead. */
"use strict";
// hotspotCache (install, activate, cache-first) is appended when served: hotspot.http.pwa

var CACHE = "hotspot-admin-__HOTSPOT_VERSION__";
var OFFLINE = "/admin/offline";
var SHELL = [
  OFFLINE,
  "/static/vendor/bootstrap/bootstrap.min.css",
  "/static/vendor/bootstrap/bootstrap.bundle.min.js",
  "/static/vendor/bootstrap-icons/bootstrap-icons.min.css",
  "/static/vendor/bootstrap-icons/fonts/bootstrap-icons.woff2",
  "/static/vendor/htmx/htmx.min.js",
  "/static/vendor/alpinejs-csp/cdn.min.js",
  "/static/css/hotspot.css",
  "/static/css/admin.css",
  "/static/js/theme.js",
  "/static/js/admin.js",
  "/static/img/logo.svg",
];

var cache = hotspotCache(CACHE, "hotspot-admin-", SHELL);

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;

  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).catch(function () {
        return caches.match(OFFLINE).then(function (hit) {
          return hit || Response.error();
        });
      })
    );
    return;
  }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(cache.cacheFirst(request));
  }
  // Anything else (fragments, event streams, downloads): the network, untouched.
});
