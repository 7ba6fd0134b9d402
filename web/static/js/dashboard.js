/* The live dashboard's pages (sessions, payments, overview, reports); no inline code (CSP).
 *
 * - Session actions: a button fetches its form with htmx into #session-action-body; the modal
 *   opens when the form arrives and stays open while the server answers with errors.
 * - Reports: the chart is drawn with ECharts from the JSON data island #report-data (values in
 *   minor units or bytes, each series with the divisor to its display unit), redrawn when the
 *   theme changes and resized with the window.
 */
(function () {
  "use strict";

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "session-action-body" || !window.bootstrap) return;
    var modal = document.getElementById("session-action-modal");
    if (!modal) return;
    window.bootstrap.Modal.getOrCreateInstance(modal).show();
    var first = target.querySelector("input:not([type=hidden]),select");
    if (first) first.focus();
  });

  function drawReport() {
    var box = document.getElementById("report-chart");
    var island = document.getElementById("report-data");
    if (!box || !island || !window.echarts) return;
    var data;
    try {
      data = JSON.parse(island.textContent || "{}");
    } catch (error) {
      return;
    }
    var dark = document.documentElement.getAttribute("data-bs-theme") === "dark";
    var existing = window.echarts.getInstanceByDom(box);
    if (existing) existing.dispose();
    var chart = window.echarts.init(box, dark ? "dark" : null, { renderer: "svg" });
    var series = (data.series || []).map(function (s) {
      return {
        name: s.name,
        type: "bar",
        stack: "total",
        emphasis: { focus: "series" },
        data: s.values.map(function (v) {
          return Math.round((v / (s.divisor || 1)) * 100) / 100;
        }),
      };
    });
    chart.setOption({
      backgroundColor: "transparent",
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.labels || [] },
      yAxis: { type: "value", name: data.unit || "" },
      series: series,
    });
  }

  document.addEventListener("DOMContentLoaded", drawReport);
  if (document.readyState !== "loading") drawReport();
  window.addEventListener("resize", function () {
    var box = document.getElementById("report-chart");
    var chart = box && window.echarts ? window.echarts.getInstanceByDom(box) : null;
    if (chart) chart.resize();
  });
  new MutationObserver(drawReport).observe(document.documentElement, {
    attributes: true,
    attributeFilter: ["data-bs-theme"],
  });
})();
