/* Charts of the dashboard pages, drawn with the vendored ECharts (no CDN).
 *
 * An element <div data-chart="KIND" data-chart-source="ID"> is drawn from the
 * JSON in <script type="application/json" id="ID">. Kinds:
 *   series  actual, target and last year over periods (Node page)
 *   bars    contributions to a gap, one bar per input (Node page)
 *   burnup  cumulative actual, target and forecast over a fiscal year
 * Amounts read in 万/億 (K/M/B in English) when the data says "compact".
 * Colours, dashes and the look of a period still running come from the page's
 * <script id="kt-chart-style"> (kpitree.chartstyle, which the reports use too):
 * nothing here names a colour.
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

  var STYLE = null;
  function style() {
    if (!STYLE) {
      var el = document.getElementById("kt-chart-style");
      STYLE = el ? JSON.parse(el.textContent) : null;
    }
    return STYLE;
  }

  function dash(role) {
    var d = style().dashes[role];
    return d ? d.split(" ").map(Number) : "solid";
  }

  // A period still running: its bar lighter and hatched, its axis label says so.
  function running() {
    var p = style().partial;
    return {
      opacity: p.opacity,
      decal: { symbol: "rect", dashArrayX: [1, 0], dashArrayY: [2, p.hatch_gap], rotation: -Math.PI / 4 },
    };
  }

  function base(option) {
    var s = style();
    option.color = [s.series.actual, s.series.target, s.series.forecast, s.series.last_year];
    option.textStyle = { fontSize: s.font_size };
    option.animation = false;
    return option;
  }

  // Axis labels counted back from the last period, which is always labelled
  // (a running period's label carries the word that says so).
  function lastAndEvery(count) {
    var step = Math.max(1, Math.ceil(count / 4));
    return function (index) { return (count - 1 - index) % step === 0; };
  }

  function seriesOption(data) {
    var fmt = unitFormatter(data.unit, data.compact, data.lang);
    var rows = data.series;
    function pick(key) { return rows.map(function (r) { return r[key]; }); }
    var actual = rows.map(function (r) {
      return r.in_progress ? { value: r.actual, itemStyle: running() } : r.actual;
    });
    var s = style().series;
    var series = [
      { name: data.labels.actual, type: "bar", data: actual, itemStyle: { color: s.actual } },
      { name: data.labels.target, type: "line", data: pick("target"),
        itemStyle: { color: s.target }, lineStyle: { color: s.target, type: dash("target") } },
    ];
    if (data.labels.last_year) {
      series.push({ name: data.labels.last_year, type: "line", data: pick("last_year"),
        itemStyle: { color: s.last_year }, lineStyle: { color: s.last_year, type: dash("last_year") } });
    }
    return base({
      aria: { enabled: true, decal: { show: false } },
      tooltip: { trigger: "axis", valueFormatter: fmt },
      legend: { top: 0 },
      grid: { left: 70, right: 16, top: 32, bottom: 52 },
      xAxis: {
        type: "category",
        data: rows.map(function (r) {
          return r.in_progress ? r.label + "\n" + data.labels.in_progress : r.label;
        }),
        axisLabel: { interval: lastAndEvery(rows.length), showMaxLabel: true, alignMaxLabel: "right" },
      },
      yAxis: { type: "value", axisLabel: { formatter: fmt }, splitLine: { lineStyle: { color: style().grid } } },
      series: series,
    });
  }

  function barsOption(data) {
    var items = data.items.slice().reverse();
    var s = style();
    return base({
      tooltip: { trigger: "axis" },
      grid: { left: 120, right: 24, top: 8, bottom: 24 },
      xAxis: { type: "value" },
      yAxis: { type: "category", data: items.map(function (i) { return i.label; }) },
      series: [{
        type: "bar",
        data: items.map(function (i) {
          return {
            value: i.contribution,
            itemStyle: { color: i.contribution < 0 ? s.negative : s.positive },
          };
        }),
        label: { show: true, position: "right", formatter: function (p) { return items[p.dataIndex].display; } },
      }],
    });
  }

  function burnupOption(data) {
    var fmt = unitFormatter(data.unit, data.compact, data.lang);
    var points = data.points;
    function pick(key) { return points.map(function (p) { return p[key]; }); }
    var s = style().series;
    return base({
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
              ? { value: p.actual, itemStyle: running() }
              : p.actual;
          }), itemStyle: { color: s.actual } },
        { name: data.labels.target, type: "line", data: pick("target"),
          itemStyle: { color: s.target }, lineStyle: { color: s.target, type: dash("target") } },
        { name: data.labels.forecast, type: "line", data: pick("forecast"), connectNulls: false,
          itemStyle: { color: s.forecast }, lineStyle: { color: s.forecast, type: dash("forecast") } },
      ],
    });
  }

  var KINDS = { series: seriesOption, bars: barsOption, burnup: burnupOption };

  function draw(root) {
    if (!window.echarts || !style()) return;
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
