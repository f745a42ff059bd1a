// aigate dashboard: the little the pages need beyond HTML. Everything works
// without it except the charts (their numbers are in the tables) and the
// copy button. Loaded as a file: the Content-Security-Policy allows no
// inline script.
"use strict";

(function () {
  function fmt(n) {
    return Number(n).toLocaleString("en-US");
  }

  function drawChart(el) {
    if (typeof uPlot === "undefined") return;
    var d;
    try {
      d = JSON.parse(el.getAttribute("data-series"));
    } catch (e) {
      return;
    }
    var kind = el.getAttribute("data-chart");
    var series, data;
    if (kind === "tokens") {
      series = [{}, { label: d.labels[2], stroke: "#2563eb", fill: "rgba(37,99,235,0.12)", value: function (u, v) { return v == null ? "" : fmt(v); } },
        { label: d.labels[3], stroke: "#16a34a", fill: "rgba(22,163,74,0.12)", value: function (u, v) { return v == null ? "" : fmt(v); } }];
      data = [d.x, d.input, d.output];
    } else {
      series = [{}, { label: d.labels[0], stroke: "#2563eb", fill: "rgba(37,99,235,0.12)", value: function (u, v) { return v == null ? "" : fmt(v); } },
        { label: d.labels[1], stroke: "#dc2626", fill: "rgba(220,38,38,0.12)", value: function (u, v) { return v == null ? "" : fmt(v); } }];
      data = [d.x, d.requests, d.errors];
    }
    el.textContent = "";
    var width = Math.max(el.clientWidth, 240);
    var plot = new uPlot({
      width: width,
      height: 220,
      series: series,
      scales: { x: { time: true } },
      axes: [{}, { values: function (u, vals) { return vals.map(fmt); }, size: 70 }],
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
    }, data, el);
    el.setAttribute("data-drawn", "true");
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(el.clientWidth, 240), height: 220 });
    });
  }

  function copy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) return;
    target.select();
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(target.value).then(done, function () {
        document.execCommand("copy");
        done();
      });
    } else {
      document.execCommand("copy");
      done();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".chart[data-series]").forEach(drawChart);
    document.querySelectorAll("[data-copy]").forEach(function (b) {
      b.addEventListener("click", function () { copy(b); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
      });
    });
  });
})();
