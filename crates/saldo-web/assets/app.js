// saldo's progressive enhancement: every page works without it. Times in the reader's own time
// zone, the interactive chart (uPlot), and dropping a statement file on the import form.
(function () {
  "use strict";

  // Relative times count from the server's clock, which may differ from this device's.
  var loaded = Date.now();
  var serverNow = Date.parse(document.body ? document.body.getAttribute("data-now") || "" : "");
  function now() {
    return isNaN(serverNow) ? Date.now() : serverNow + (Date.now() - loaded);
  }

  var units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["h", 3600], ["min", 60]];
  function relative(date) {
    var seconds = Math.round((date.getTime() - now()) / 1000);
    var abs = Math.abs(seconds);
    if (abs < 60) return seconds > 5 ? "in a moment" : "just now";
    for (var i = 0; i < units.length; i++) {
      var n = Math.floor(abs / units[i][1]);
      if (n >= 1) {
        var unit = units[i][0];
        var word = unit.length > 3 ? " " + unit + (n > 1 ? "s" : "") : " " + unit;
        return seconds < 0 ? n + word + " ago" : "in " + n + word;
      }
    }
    return "";
  }

  function localTimes(root) {
    root.querySelectorAll("time[data-relative]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) return;
      el.title = date.toLocaleString();
      el.textContent = relative(date);
    });
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (!isNaN(date)) el.textContent = date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
    });
  }

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function charts(root) {
    if (typeof uPlot === "undefined") return;
    root.querySelectorAll(".chart[data-source]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-source"));
      if (!source || el.dataset.drawn) return;
      var data = JSON.parse(source.textContent);
      if (data.days.length < 2) return;
      el.dataset.drawn = "1";
      var xs = data.days.map(function (d) { return Date.parse(d + "T12:00:00Z") / 1000; });
      var series = [{}];
      var columns = [xs];
      data.series.forEach(function (s) {
        series.push({ label: s.label, stroke: cssVar(s.colour), width: 2, value: function (u, v) { return v == null ? "–" : v.toLocaleString(undefined, { minimumFractionDigits: data.decimals, maximumFractionDigits: data.decimals }) + " " + data.currency; } });
        columns.push(s.values);
      });
      var text = cssVar("--text"), line = cssVar("--line");
      var axis = { stroke: text, grid: { stroke: line }, ticks: { stroke: line } };
      var plot = new uPlot({
        width: el.clientWidth || 600, height: 240, series: series,
        axes: [axis, Object.assign({ size: 70 }, axis)],
        legend: { live: true }, cursor: { drag: { x: false, y: false } },
      }, columns, el);
      el.querySelectorAll("svg.fallback, p.muted").forEach(function (old) { old.remove(); });
      plots.push({ plot: plot, el: el });
    });
  }

  var plots = [];
  window.addEventListener("resize", function () {
    plots.forEach(function (p) { p.plot.setSize({ width: p.el.clientWidth, height: 240 }); });
  });
  // The colours come from the scheme in force: a switch to dark or light draws the charts again.
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () {
    var drawn = plots;
    plots = [];
    drawn.forEach(function (p) { p.plot.destroy(); delete p.el.dataset.drawn; });
    charts(document);
  });

  function dropZones(root) {
    root.querySelectorAll(".drop").forEach(function (zone) {
      var input = zone.querySelector("input[type=file]");
      if (!input) return;
      ["dragenter", "dragover"].forEach(function (type) {
        zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("over"); });
      });
      ["dragleave", "drop"].forEach(function (type) {
        zone.addEventListener(type, function () { zone.classList.remove("over"); });
      });
      zone.addEventListener("drop", function (e) {
        e.preventDefault();
        if (e.dataTransfer && e.dataTransfer.files.length) input.files = e.dataTransfer.files;
      });
    });
  }

  // "Select all / none" on the list of discovered items.
  function selectors(root) {
    root.querySelectorAll("[data-select]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var on = button.getAttribute("data-select") === "all";
        document.querySelectorAll("input[name=track]").forEach(function (box) { box.checked = on; });
      });
    });
  }

  function enhance(root) {
    localTimes(root);
    charts(root);
    dropZones(root);
    selectors(root);
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSwap", function (e) { enhance(e.target); });
})();
