/* Notes on the timeline drawn on the charts of charts.js.
 *
 * A chart's JSON may carry "notes": [{id, text, from, to}], where from/to are
 * the keys ("period") of the first and last category the note covers. A note of
 * one category is a vertical line, a longer one a shaded band; both carry the
 * note's text. The same notes are listed in words next to the chart.
 */
(function () {
  "use strict";

  function categories(data) {
    var rows = data.series || data.points || [];
    return rows.map(function (r) { return r.period; });
  }

  function decorate(option, data) {
    var notes = data.notes || [];
    if (!notes.length || !option.series || !option.series.length) return option;
    var keys = categories(data);
    var lines = [];
    var areas = [];
    notes.forEach(function (n) {
      var first = keys.indexOf(n.from);
      var last = keys.indexOf(n.to);
      if (first < 0 || last < 0) return;
      // A function, not a string: ECharts reads "{b}" or "{c}" in a string
      // formatter as a template, and a note's text is shown as written.
      var text = String(n.text);
      var label = { show: true, formatter: function () { return text; }, fontSize: 11 };
      if (first === last) {
        lines.push({ xAxis: first, name: n.text, label: label });
      } else {
        areas.push([{ xAxis: first, name: n.text, label: label }, { xAxis: last }]);
      }
    });
    var look = JSON.parse(document.getElementById("kt-chart-style").textContent).note;
    var host = option.series[0];
    host.markLine = {
      symbol: "none", silent: false, data: lines,
      lineStyle: { color: look.line, type: "solid", width: 1 },
      label: { position: "insideEndTop" },
    };
    host.markArea = { silent: false, data: areas, itemStyle: { color: look.band } };
    return option;
  }

  window.kpitreeNotes = { decorate: decorate };
})();
