/* Charts of the dashboard pages, drawn with the vendored ECharts (no CDN).
 *
 * An element <div data-chart="KIND" data-chart-source="ID"> is drawn from the
 * JSON in <script type="application/json" id="ID">. Kinds:
 *   series  actual, target and last year over periods (Node page)
 *   bars    contributions to a gap, one bar per input (Node page)
 *   funnel  stage counts against targets (Funnel page)
 *   burnup  cumulative actual, target and forecast over a fiscal year
 * Amounts read in 万/億 (K/M/B in English) when the data says "compact".
 * Charts are drawn on load and again after htmx swaps in new content (live
 * updates), and resized with the window.
 */
(function () {
  "use strict";
  var charts = [];

  function compactYen(v, lang) {
    var size = Math.abs(v);
    var steps = lang === "ja"
      ? [[1e12, "兆"], [1e8, "億"], [1e4, "万"]]
      : [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];
    for (var i = 0; i < steps.length; i++) {
      if (size >= steps[i][0]) {
        var scaled = size / steps[i][0];
        var digits = scaled >= 100 ? 0 : scaled >= 10 ? 1 : 2;
        return (v < 0 ? "-" : "") + "¥" + Number(scaled.toFixed(digits)).toLocaleString("ja-JP") + steps[i][1];
      }
    }
    return (v < 0 ? "-" : "") + "¥" + Math.round(size).toLocaleString("ja-JP");
  }

  function unitFormatter(unit, compact, lang) {
    if (unit === "ratio") {
      return function (v) { return v == null ? "—" : (v * 100).toFixed(1) + "%"; };
    }
    if (unit === "currency" && compact) {
      return function (v) { return v == null ? "—" : compactYen(v, lang); };
    }
    if (unit === "currency") {
      return function (v) { return v == null ? "—" : "¥" + Math.round(v).toLocaleString("ja-JP"); };
    }
    return function (v) {
      return v == null ? "—" : (Math.round(v * 10) / 10).toLocaleString("ja-JP");
    };
  }

  // A period still running: its bar lighter and hatched, its axis label says so.
  var RUNNING = {
    opacity: 0.45,
    decal: { symbol: "rect", dashArrayX: [1, 0], dashArrayY: [2, 3], rotation: -Math.PI / 4 },
  };

  function seriesOption(data) {
    var fmt = unitFormatter(data.unit, data.compact, data.lang);
    var rows = data.series;
    function pick(key) { return rows.map(function (r) { return r[key]; }); }
    var actual = rows.map(function (r) {
      return r.in_progress ? { value: r.actual, itemStyle: RUNNING } : r.actual;
    });
    var series = [
      { name: data.labels.actual, type: "bar", data: actual },
      { name: data.labels.target, type: "line", data: pick("target"), lineStyle: { type: "dashed" } },
      { name: data.labels.last_year, type: "line", data: pick("last_year") },
    ];
    return {
      animation: false,
      aria: { enabled: true, decal: { show: false } },
      tooltip: { trigger: "axis", valueFormatter: fmt },
      legend: { top: 0 },
      grid: { left: 70, right: 16, top: 32, bottom: 52 },
      xAxis: {
        type: "category",
        data: rows.map(function (r) {
          return r.in_progress ? r.label + "\n" + data.labels.in_progress : r.label;
        }),
      },
      yAxis: { type: "value", axisLabel: { formatter: fmt } },
      series: series,
    };
  }

  function barsOption(data) {
    var items = data.items.slice().reverse();
    return {
      animation: false,
      tooltip: { trigger: "axis" },
      grid: { left: 120, right: 24, top: 8, bottom: 24 },
      xAxis: { type: "value" },
      yAxis: { type: "category", data: items.map(function (i) { return i.label; }) },
      series: [{
        type: "bar",
        data: items.map(function (i) {
          return {
            value: i.contribution,
            itemStyle: { color: i.contribution < 0 ? "#b3261e" : "#1e7b3c" },
          };
        }),
        label: { show: true, position: "right", formatter: function (p) { return items[p.dataIndex].display; } },
      }],
    };
  }

  function funnelOption(data) {
    var stages = data.stages;
    return {
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 110, right: 24, top: 32, bottom: 24 },
      xAxis: { type: "value" },
      yAxis: { type: "category", inverse: true, data: stages.map(function (s) { return s.label; }) },
      series: [
        { name: data.labels.actual, type: "bar", data: stages.map(function (s) { return s.actual; }),
          label: { show: true, position: "right", formatter: function (p) { return stages[p.dataIndex].display.actual; } } },
        { name: data.labels.target, type: "bar", data: stages.map(function (s) { return s.target; }),
          itemStyle: { color: "#c9d3e3" } },
      ],
    };
  }

  function burnupOption(data) {
    var fmt = unitFormatter(data.unit, data.compact, data.lang);
    var points = data.points;
    function pick(key) { return points.map(function (p) { return p[key]; }); }
    return {
      animation: false,
      tooltip: { trigger: "axis", valueFormatter: fmt },
      legend: { top: 0 },
      grid: { left: 70, right: 16, top: 32, bottom: 40 },
      xAxis: {
        type: "category",
        data: points.map(function (p) {
          return p.in_progress ? p.label + " (" + data.labels.in_progress + ")" : p.label;
        }),
      },
      yAxis: { type: "value", axisLabel: { formatter: fmt } },
      series: [
        { name: data.labels.actual, type: "bar",
          data: points.map(function (p) {
            return p.in_progress
              ? { value: p.actual, itemStyle: { opacity: 0.45, decal: { symbol: "rect", dashArrayX: [1, 0], dashArrayY: [2, 4], rotation: -0.7 } } }
              : p.actual;
          }) },
        { name: data.labels.target, type: "line", data: pick("target"), lineStyle: { type: "dashed" } },
        { name: data.labels.forecast, type: "line", data: pick("forecast"), connectNulls: false,
          lineStyle: { type: "dotted" } },
      ],
    };
  }

  var KINDS = { series: seriesOption, bars: barsOption, funnel: funnelOption, burnup: burnupOption };

  function draw(root) {
    if (!window.echarts) return;
    charts = charts.filter(function (c) {
      if (document.body.contains(c.getDom())) return true;
      c.dispose();
      return false;
    });
    (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
      var build = KINDS[el.getAttribute("data-chart")];
      var source = document.getElementById(el.getAttribute("data-chart-source"));
      if (!build || !source) return;
      var existing = window.echarts.getInstanceByDom(el);
      if (existing) existing.dispose();
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      var data = JSON.parse(source.textContent);
      var option = build(data);
      // Notes on the timeline (timeline.js) mark the periods they cover.
      if (window.kpitreeNotes) window.kpitreeNotes.decorate(option, data);
      chart.setOption(option);
      charts.push(chart);
    });
  }

  function start() {
    draw(document);
    document.body.addEventListener("htmx:afterSettle", function () { draw(document); });
    window.addEventListener("resize", function () {
      charts.forEach(function (c) { c.resize(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
