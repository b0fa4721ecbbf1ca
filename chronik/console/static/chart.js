/* A small SVG line chart for the Chronik console (no library).
 *
 *   const c = ChronikChart.create(figureEl, {title, unit, series: [{key, label, color}], windowMs})
 *   c.update(points)   // points: [{t: epoch ms, <key>: number, ...}], oldest first
 *
 * The SVG carries data-points (points drawn) and data-last (the first series' last value),
 * and its aria-label says the latest values, so tests and screen readers can read it.
 */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const W = 600, H = 170, PAD_L = 74, PAD_R = 8, PAD_T = 8, PAD_B = 22;

  function el(name, attrs) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function fmt(v, unit) {
    if (unit === "bytes/s") {
      const u = ["B/s", "KB/s", "MB/s", "GB/s"];
      let i = 0;
      while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
      return (v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + u[i];
    }
    if (unit === "ms") return (v >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2)) + " ms";
    if (unit === "messages") return String(Math.round(v));
    if (unit === "messages/s") return (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + " msg/s";
    return (Math.abs(v) >= 100 ? v.toFixed(0) : String(Math.round(v * 10) / 10)) + (unit ? " " + unit : "");
  }

  function create(figure, opts) {
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
      "aria-label": opts.title + ": no data yet", "data-points": "0", "data-last": "" });
    if (opts.testid) svg.setAttribute("data-testid", opts.testid);
    const grid = el("g", { stroke: "#c9d1d9", "stroke-width": "1" });
    const labels = el("g", { fill: "#4a5360", "font-size": "11", "font-family": "system-ui, sans-serif" });
    const lines = el("g", { fill: "none", "stroke-width": "2", "vector-effect": "non-scaling-stroke" });
    svg.append(grid, labels, lines);
    figure.append(svg);
    const legend = document.createElement("ul");
    legend.className = "legend";
    for (const s of opts.series) {
      const li = document.createElement("li");
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = s.color;
      const val = document.createElement("span");
      val.dataset.series = s.key;
      li.append(sw, document.createTextNode(s.label + ": "), val);
      legend.append(li);
    }
    figure.append(legend);
    const paths = opts.series.map(s => {
      const p = el("polyline", { stroke: s.color, points: "" });
      lines.append(p);
      return p;
    });
    const windowMs = opts.windowMs || 15 * 60 * 1000;

    function update(points) {
      const now = points.length ? points[points.length - 1].t : Date.now();
      const from = now - windowMs;
      const shown = points.filter(p => p.t >= from);
      let max = 0;
      for (const p of shown) for (const s of opts.series) max = Math.max(max, +p[s.key] || 0);
      max = niceMax(max);
      grid.replaceChildren();
      labels.replaceChildren();
      for (let i = 0; i <= 4; i++) {
        const y = PAD_T + (H - PAD_T - PAD_B) * (1 - i / 4);
        grid.append(el("line", { x1: PAD_L, x2: W - PAD_R, y1: y, y2: y }));
        const t = el("text", { x: PAD_L - 4, y: y + 4, "text-anchor": "end" });
        t.textContent = fmt(max * i / 4, opts.unit);
        labels.append(t);
      }
      const tl = el("text", { x: PAD_L, y: H - 6 });
      tl.textContent = "-" + Math.round(windowMs / 60000) + " min";
      const tr = el("text", { x: W - PAD_R, y: H - 6, "text-anchor": "end" });
      tr.textContent = "now";
      labels.append(tl, tr);
      const x = t => PAD_L + (W - PAD_L - PAD_R) * (t - from) / windowMs;
      const y = v => PAD_T + (H - PAD_T - PAD_B) * (1 - (v || 0) / max);
      opts.series.forEach((s, i) => {
        paths[i].setAttribute("points", shown.map(p => x(p.t).toFixed(1) + "," + y(+p[s.key]).toFixed(1)).join(" "));
      });
      const last = shown[shown.length - 1];
      svg.setAttribute("data-points", String(shown.length));
      svg.setAttribute("data-last", last ? String(last[opts.series[0].key]) : "");
      const said = opts.series.map(s => `${s.label} ${last ? fmt(+last[s.key] || 0, opts.unit) : "no data"}`);
      svg.setAttribute("aria-label", `${opts.title}, last ${Math.round(windowMs / 60000)} minutes; now: ${said.join(", ")}`);
      for (const s of opts.series) {
        const v = legend.querySelector(`[data-series="${s.key}"]`);
        if (v) v.textContent = last ? fmt(+last[s.key] || 0, opts.unit) : "–";
      }
    }

    update([]);
    return { update, svg };
  }

  window.ChronikChart = { create, fmt };
})();
