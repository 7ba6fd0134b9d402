/* The routers page: a Leaflet map of the routers, and the add/edit modal; no inline code (CSP).
 *
 * - #routers-map is drawn from the JSON data island #routers-map-data ({tiles, attribution,
 *   routers: [{name, lat, lon, status, site, online}]}). Markers are vector circles, so they show
 *   even when the tiles cannot load (a box without internet): the map then keeps its plain
 *   background and #routers-map-offline says why.
 * - Add/Edit fetch the form with htmx into #router-modal-body; the modal opens when it arrives
 *   and stays open while the server answers with errors. Clicking #router-pick-map sets the
 *   latitude and longitude fields; typing them moves the pin; [data-map-clear] empties them.
 */
(function () {
  "use strict";

  var COLORS = { up: "#198754", degraded: "#e0a800", down: "#dc3545", unknown: "#6c757d", disabled: "#adb5bd" };
  var WORLD = { center: [0, 20], zoom: 2 };
  var pickMap = null;

  function addTiles(map, url, attribution, onFail) {
    if (!url) {
      if (onFail) onFail();
      return;
    }
    var layer = window.L.tileLayer(url, { maxZoom: 19, attribution: attribution || "" });
    var failures = 0;
    var loaded = 0;
    layer.on("tileload", function () {
      loaded += 1;
    });
    layer.on("tileerror", function () {
      failures += 1;
      if (failures >= 3 && loaded === 0) {
        map.removeLayer(layer);
        if (onFail) onFail();
      }
    });
    layer.addTo(map);
  }

  function popup(router) {
    var box = document.createElement("div");
    var name = document.createElement("strong");
    name.textContent = router.name;
    box.appendChild(name);
    box.appendChild(document.createElement("br"));
    box.appendChild(document.createTextNode(router.status + " · site " + router.site + " · " + router.online + " online"));
    return box;
  }

  function drawRoutersMap() {
    var el = document.getElementById("routers-map");
    var island = document.getElementById("routers-map-data");
    if (!el || !island || !window.L || el.getAttribute("data-drawn")) return;
    var data;
    try {
      data = JSON.parse(island.textContent || "{}");
    } catch (error) {
      return;
    }
    el.setAttribute("data-drawn", "1");
    var map = window.L.map(el, { scrollWheelZoom: false });
    addTiles(map, data.tiles, data.attribution, function () {
      var note = document.getElementById("routers-map-offline");
      if (note && data.tiles) note.classList.remove("d-none");
    });
    var points = [];
    (data.routers || []).forEach(function (r) {
      var color = COLORS[r.status] || COLORS.unknown;
      window.L.circleMarker([r.lat, r.lon], { radius: 9, color: color, fillColor: color, fillOpacity: 0.85, weight: 2 })
        .bindTooltip(r.name)
        .bindPopup(popup(r))
        .addTo(map);
      points.push([r.lat, r.lon]);
    });
    if (points.length) {
      map.fitBounds(points, { padding: [32, 32], maxZoom: 15 });
    } else {
      map.setView(WORLD.center, WORLD.zoom);
    }
  }

  function coordinate(input) {
    var value = parseFloat(String(input.value || "").replace(",", "."));
    return isFinite(value) ? value : null;
  }

  function drawPickMap(root) {
    var el = root.querySelector("#router-pick-map");
    if (pickMap) {
      pickMap.remove();
      pickMap = null;
    }
    if (!el || !window.L) return;
    var lat = root.querySelector("[name=latitude]");
    var lon = root.querySelector("[name=longitude]");
    if (!lat || !lon) return;
    var map = window.L.map(el);
    pickMap = map;
    addTiles(map, el.getAttribute("data-tiles"), el.getAttribute("data-attribution"), null);
    var pin = null;
    function place(point, zoom) {
      if (pin) pin.setLatLng(point);
      else pin = window.L.circleMarker(point, { radius: 8, color: COLORS.up, fillColor: COLORS.up, fillOpacity: 0.9 }).addTo(map);
      if (zoom) map.setView(point, Math.max(map.getZoom() || 0, zoom));
    }
    function fromInputs(zoom) {
      var a = coordinate(lat);
      var b = coordinate(lon);
      if (a === null || b === null || Math.abs(a) > 90 || Math.abs(b) > 180) {
        if (pin) {
          map.removeLayer(pin);
          pin = null;
        }
        return false;
      }
      place([a, b], zoom);
      return true;
    }
    if (!fromInputs(14)) map.setView(WORLD.center, WORLD.zoom);
    map.on("click", function (event) {
      lat.value = event.latlng.lat.toFixed(6);
      lon.value = event.latlng.lng.toFixed(6);
      place(event.latlng, 0);
    });
    lat.addEventListener("change", function () {
      fromInputs(14);
    });
    lon.addEventListener("change", function () {
      fromInputs(14);
    });
    var clear = root.querySelector("[data-map-clear]");
    if (clear) {
      clear.addEventListener("click", function () {
        lat.value = "";
        lon.value = "";
        fromInputs(0);
      });
    }
    window.setTimeout(function () {
      map.invalidateSize();
    }, 0);
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "router-modal-body") return;
    var modal = document.getElementById("router-modal");
    if (modal && window.bootstrap) {
      var instance = window.bootstrap.Modal.getOrCreateInstance(modal);
      if (modal.classList.contains("show")) {
        drawPickMap(target);
      } else {
        modal.addEventListener(
          "shown.bs.modal",
          function () {
            drawPickMap(target);
          },
          { once: true }
        );
        instance.show();
      }
    } else {
      drawPickMap(target);
    }
    var first = target.querySelector("input:not([type=hidden]):not([readonly]),select");
    if (first) first.focus();
  });

  function start() {
    drawRoutersMap();
    var standalone = document.getElementById("router-modal-body");
    if (standalone && !document.getElementById("router-modal") && standalone.querySelector("#router-form")) {
      drawPickMap(standalone);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
