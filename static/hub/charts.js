/* Overview charts (uPlot, served from static/vendor): throughput, error rate, latency. */
(function () {
  "use strict";
  var section = document.getElementById("charts");
  if (!section || typeof uPlot === "undefined") { return; }
  var initial = JSON.parse(document.getElementById("series-data").textContent);
  var fmt = window.hubFormat || { duration: String, thousands: String };
  // Axis labels as the tiles write the numbers: whole counts, per cent, "1 m 12 s".
  function whole(v) { return Number.isInteger(v) ? fmt.thousands(v) : ""; }
  function percent(v) { return Math.round(v * 100) + " %"; }  // the series holds fractions
  function seconds(v) { return v === 0 ? "0" : v < 1 ? v.toFixed(2) + " s" : fmt.duration(v); }
  var specs = [
    { el: "chart-throughput", key: "throughput", label: "completed", stroke: "#3fb950", fill: "rgba(63,185,80,.15)", values: whole, size: 56 },
    { el: "chart-error-rate", key: "error_rate", label: "error rate", stroke: "#f85149", fill: "rgba(248,81,73,.12)", values: percent, size: 60, range: [0, 1] },
    { el: "chart-latency", key: "latency", label: "seconds", stroke: "#58a6ff", fill: "rgba(88,166,255,.12)", values: seconds, size: 72 },
  ];
  var axis = { stroke: "#8b949e", grid: { stroke: "#30363d", width: 1 }, ticks: { stroke: "#30363d" } };
  var charts = specs.map(function (spec) {
    var target = document.getElementById(spec.el);
    var opts = {
      width: Math.max(240, target.clientWidth || 320),
      height: 160,
      legend: { show: false },
      // The error rate is a fraction: its axis always reads 0 … 100 %.
      scales: spec.range ? { x: { time: true }, y: { range: spec.range } } : { x: { time: true } },
      axes: [Object.assign({}, axis), Object.assign({
        size: spec.size,
        values: function (u, splits) { return splits.map(spec.values); },
      }, axis)],
      series: [{}, { label: spec.label, stroke: spec.stroke, fill: spec.fill, width: 2, spanGaps: false }],
    };
    return { spec: spec, plot: new uPlot(opts, [initial.t, initial[spec.key]], target) };
  });

  function draw(series) {
    charts.forEach(function (c) { c.plot.setData([series.t, series[c.spec.key]]); });
  }
  var busy = false;
  function refresh() {
    if (busy) { return; }
    busy = true;
    fetch(section.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (series) { if (series) { draw(series); } })
      .finally(function () { busy = false; });
  }
  window.addEventListener("resize", function () {
    charts.forEach(function (c) {
      var target = document.getElementById(c.spec.el);
      c.plot.setSize({ width: Math.max(240, target.clientWidth), height: 160 });
    });
  });
  window.hubCharts = { refresh: refresh };
})();
