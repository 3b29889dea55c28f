/* Vigil console: anomalous series as inline SVG, from the incident's timeline.
 *
 * Each anomaly.firing / anomaly.resolved entry carries the detector's explanation: what it
 * observed, what it expected and the band it allowed (lower..upper). Per series, those points
 * in time order draw the band, the expected line, the observed values, and a marker at the
 * moment the series fired. No library: a few SVG elements built with the DOM (CSP-safe).
 */
"use strict";

(function () {
  const NS = "http://www.w3.org/2000/svg";
  const W = 720, H = 220, PAD = { left: 64, right: 16, top: 16, bottom: 34 };

  function svg(tag, attrs) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    return el;
  }

  /** Map<series, points[]> from timeline entries; points sorted by time. */
  function seriesFromTimeline(entries) {
    const bySeries = new Map();
    for (const e of entries) {
      if (e.kind !== "anomaly.firing" && e.kind !== "anomaly.resolved") continue;
      const x = e.detail && e.detail.explanation;
      if (!x || !isFinite(x.observed) || !isFinite(x.lower) || !isFinite(x.upper)) continue;
      const name = e.detail.series || "series";
      if (!bySeries.has(name)) bySeries.set(name, []);
      bySeries.get(name).push({
        // The series' own time when recorded (older entries: when the api recorded them).
        t: Date.parse(e.detail.observed_at || e.at), status: e.kind.split(".")[1], observed: x.observed,
        expected: x.expected, lower: x.lower, upper: x.upper, detail: x.detail || "",
      });
    }
    for (const pts of bySeries.values()) pts.sort((a, b) => a.t - b.t);
    return bySeries;
  }

  function fmt(v) {
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-2)) return v.toExponential(2);
    return Number(v.toPrecision(4)).toString();
  }

  function clock(t) {
    return new Date(t).toISOString().slice(11, 19);
  }

  /** A <figure> with the chart of one series and, for screen readers, its points as a table. */
  function render(name, points, index) {
    const figure = document.createElement("figure");
    figure.className = "chart";
    const captionId = "chart-caption-" + index;
    const caption = document.createElement("figcaption");
    caption.id = captionId;
    caption.textContent = name;
    figure.appendChild(caption);

    let t0 = Math.min(...points.map((p) => p.t)), t1 = Math.max(...points.map((p) => p.t));
    const pad = Math.max((t1 - t0) * 0.1, 60000);  // room around the first and last point
    t0 -= pad; t1 += pad;
    const values = points.flatMap((p) => [p.observed, p.expected, p.lower, p.upper]);
    let lo = Math.min(...values), hi = Math.max(...values);
    const margin = (hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1;
    lo -= margin; hi += margin;
    const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
    const y = (v) => PAD.top + (1 - (v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);

    const root = svg("svg", {
      class: "series", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": captionId,
      "data-series": name,
    });
    const title = svg("title");
    const fired = points.find((p) => p.status === "firing");
    title.textContent = `${name}: observed against the expected band` +
      (fired ? `, fired at ${clock(fired.t)} UTC` : "");
    root.appendChild(title);
    root.appendChild(svg("line", { class: "axis", x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom }));
    root.appendChild(svg("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom }));

    // The band and expected value as the detector reported them at each point, held until
    // the next report (a step, not an interpolation: nothing is known in between).
    const spread = [];
    points.forEach((p, i) => {
      const until = i + 1 < points.length ? points[i + 1].t : t1;
      spread.push({ ...p }, { ...p, t: until });
    });
    const band = spread.map((p) => `${x(p.t)},${y(p.upper)}`)
      .concat(spread.slice().reverse().map((p) => `${x(p.t)},${y(p.lower)}`));
    root.appendChild(svg("polygon", { class: "band", points: band.join(" ") }));
    root.appendChild(svg("polyline", { class: "expected", points: spread.map((p) => `${x(p.t)},${y(p.expected)}`).join(" ") }));
    // Observed values are points, not a line: only the reports are known, not what lay between.
    for (const p of points) {
      const dot = svg("circle", { class: "point", cx: x(p.t), cy: y(p.observed), r: 4 });
      const tip = svg("title");
      tip.textContent = `${p.status} at ${clock(p.t)}: ${fmt(p.observed)} (expected ${fmt(p.expected)}, band ${fmt(p.lower)}..${fmt(p.upper)})`;
      dot.appendChild(tip);
      root.appendChild(dot);
    }
    if (fired) {
      root.appendChild(svg("line", { class: "fired", x1: x(fired.t), y1: PAD.top, x2: x(fired.t), y2: H - PAD.bottom }));
      const label = svg("text", { class: "fired-label", x: x(fired.t) + 4, y: PAD.top + 10 });
      label.textContent = "fired " + clock(fired.t);
      root.appendChild(label);
    }
    const ticks = [[lo, H - PAD.bottom], [hi, PAD.top + 10]];
    for (const [v, yy] of ticks) {
      const t = svg("text", { x: 4, y: yy });
      t.textContent = fmt(v);
      root.appendChild(t);
    }
    const start = svg("text", { x: PAD.left, y: H - 10 });
    start.textContent = clock(t0) + " UTC";
    const end = svg("text", { x: W - PAD.right, y: H - 10, "text-anchor": "end" });
    end.textContent = clock(t1);
    root.append(start, end);
    figure.appendChild(root);

    const legend = document.createElement("div");
    legend.className = "legend";
    legend.setAttribute("aria-hidden", "true");
    for (const [cls, text] of [["sw-band", "expected band"], ["sw-expected", "expected"], ["sw-observed", "observed (each report)"], ["sw-fired", "fired"]]) {
      const item = document.createElement("span");
      const sw = document.createElement("span");
      sw.className = "sw " + cls;
      item.append(sw, text);
      legend.appendChild(item);
    }
    figure.appendChild(legend);
    figure.appendChild(dataTable(name, points));
    return figure;
  }

  function dataTable(name, points) {
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "Data points";
    details.appendChild(summary);
    const table = document.createElement("table");
    const cap = document.createElement("caption");
    cap.textContent = "Points of " + name;
    table.appendChild(cap);
    const head = table.createTHead().insertRow();
    for (const h of ["Time (UTC)", "State", "Observed", "Expected", "Band"]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = h;
      head.appendChild(th);
    }
    const body = table.createTBody();
    for (const p of points) {
      const row = body.insertRow();
      for (const v of [new Date(p.t).toISOString().replace("T", " ").slice(0, 19), p.status, fmt(p.observed), fmt(p.expected), `${fmt(p.lower)} .. ${fmt(p.upper)}`]) {
        row.insertCell().textContent = v;
      }
    }
    details.appendChild(table);
    return details;
  }

  window.VigilChart = { seriesFromTimeline, render };
})();
