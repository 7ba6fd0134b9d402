/* What the portal's and the admin's service workers share (the server appends it to each
 * worker script, hotspot.http.pwa, so installing a worker costs one request; a function
 * declaration, so it is defined before the worker code calls it):
 * at install, store the app's shell (the vendored CSS/JS it just loaded); at activation, drop
 * the caches of older versions (the cache is named after the version, so an upgrade replaces
 * every file); and answer from that cache first. Each worker decides what goes where. */
// `cacheName` e.g. "hotspot-admin-1.2.0"; older caches are the ones starting with `prefix`.
function hotspotCache(cacheName, prefix, shell) {
  self.addEventListener("install", function (event) {
    event.waitUntil(
      caches
        .open(cacheName)
        .then(function (cache) {
          return Promise.all(
            shell.map(function (url) {
              // force-cache: take the copy the page just loaded instead of downloading it again.
              return fetch(new Request(url, { cache: "force-cache", credentials: "same-origin" }))
                .then(function (response) {
                  if (response.ok) return cache.put(url, response);
                })
                .catch(function () {});
            })
          );
        })
        .then(function () {
          return self.skipWaiting();
        })
    );
  });

  self.addEventListener("activate", function (event) {
    event.waitUntil(
      caches
        .keys()
        .then(function (keys) {
          return Promise.all(
            keys
              .filter(function (key) {
                return key.indexOf(prefix) === 0 && key !== cacheName;
              })
              .map(function (key) {
                return caches.delete(key);
              })
          );
        })
        .then(function () {
          return self.clients.claim();
        })
    );
  });

  // Store a good answer for next time, without making the page wait for the write.
  function keep(request, response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(cacheName).then(function (cache) {
        cache.put(request, copy);
      });
    }
    return response;
  }

  return {
    keep: keep,
    cacheFirst: function (request) {
      return caches.match(request).then(function (hit) {
        return (
          hit ||
          fetch(request).then(function (response) {
            return keep(request, response);
          })
        );
      });
    },
  };
}
