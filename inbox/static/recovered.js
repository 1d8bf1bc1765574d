// The recovered-revenue page (SPEC §11.5): GET /api/v1/reports/recovered drawn as totals, a bar chart of the amount
// recovered per ISO week (inline SVG, no library) and a line per employee. It runs after app.js and uses its helpers
// (api, el, clear, t, ME); everything from the API is written as text (textContent), never as HTML.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const DAY = 86_400_000;
  const WEEKS = 12;
  const form = document.getElementById("period");
  const currencySelect = document.getElementById("currency");
  let report = null;

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const day = (ms) => new Date(ms).toISOString().slice(0, 10);

  // The last 12 ISO weeks (UTC, as the report counts them), this one included; "to" is the last day shown.
  function defaultPeriod() {
    const now = new Date();
    const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    const monday = today - ((new Date(today).getUTCDay() + 6) % 7) * DAY;
    return { from: day(monday - (WEEKS - 1) * 7 * DAY), to: day(monday + 6 * DAY) };
  }

  // The dates are whole UTC days; the API's period is [from, to), so it ends the day after "to".
  function period() {
    const from = Date.parse(form.elements.from.value + "T00:00:00Z");
    const to = Date.parse(form.elements.to.value + "T00:00:00Z") + DAY;
    return new URLSearchParams({ from: new Date(from).toISOString(), to: new Date(to).toISOString() });
  }

  const amounts = (list) => (list.length ? list.map((a) => money(a.amount, a.currency)).join(" + ") : "—");

  function rate(value) {
    if (value === null) return "—";
    return new Intl.NumberFormat(ME.language, { style: "percent", maximumFractionDigits: 1 }).format(Number(value));
  }

  function duration(seconds) {
    if (seconds === null) return "—";
    const [value, unit] = seconds < 90 * 60 ? [seconds / 60, "minute"]
      : seconds < 48 * 3600 ? [seconds / 3600, "hour"] : [seconds / 86400, "day"];
    return new Intl.NumberFormat(ME.language, { style: "unit", unit, unitDisplay: "short",
      maximumFractionDigits: 1 }).format(value);
  }

  const weekDay = (iso) => new Date(iso).toLocaleDateString(ME.language, { day: "numeric", month: "short",
    timeZone: "UTC" });

  function amountIn(figures, currency) {
    const found = figures.recovered_amounts.find((a) => a.currency === currency);
    return found ? Number(found.amount) : 0;
  }

  // A round top for the axis: 1, 2, 2.5 or 5 times a power of ten, at least the highest bar.
  function niceTop(max) {
    if (max <= 0) return 1;
    const power = 10 ** Math.floor(Math.log10(max));
    return [1, 2, 2.5, 5, 10].map((step) => step * power).find((top) => top >= max);
  }

  function drawChart(weeks, currency) {
    const box = clear(document.getElementById("chart"));
    const width = 760, height = 260, left = 64, right = 12, top = 16, bottom = 30;
    const plotWidth = width - left - right, plotHeight = height - top - bottom;
    const values = weeks.map((w) => amountIn(w, currency));
    const max = niceTop(Math.max(0, ...values));
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": t("Amount recovered per week") });
    for (const fraction of [0, 0.5, 1]) {
      const y = top + plotHeight * (1 - fraction);
      chart.append(svg("line", { class: fraction ? "grid" : "axis", x1: left, x2: width - right, y1: y, y2: y }));
      const label = currency ? money(max * fraction, currency, { whole: max >= 10 }) : String(max * fraction);
      chart.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, label));
    }
    const slot = plotWidth / Math.max(weeks.length, 1);
    const barWidth = Math.max(2, slot * 0.7);
    const labelEvery = Math.ceil(weeks.length / 14);
    weeks.forEach((week, i) => {
      const value = values[i];
      const barHeight = (value / max) * plotHeight;
      const x = left + slot * i + (slot - barWidth) / 2;
      const bar = svg("rect", { class: "bar", x, y: top + plotHeight - barHeight, width: barWidth, height: barHeight,
        "data-week": week.week, "data-amount": value });
      bar.append(svg("title", {}, `${week.week} (${weekDay(week.starts)}): ${currency ? money(value, currency) : 0}`
        + ` · ${t("Recovered")} ${week.recovered} / ${week.failed}`));
      chart.append(bar);
      if (value > 0 && weeks.length <= 16) {
        chart.append(svg("text", { class: "value", x: x + barWidth / 2, y: top + plotHeight - barHeight - 4,
          "text-anchor": "middle" }, money(value, currency)));
      }
      if (i % labelEvery === 0) {
        chart.append(svg("text", { x: x + barWidth / 2, y: height - bottom + 16, "text-anchor": "middle" },
          weekDay(week.starts)));
      }
    });
    box.append(chart);
  }

  function cells(figures) {
    return [
      el("td", { class: "num failed-count" }, String(figures.failed)),
      el("td", { class: "num recovered-count" }, String(figures.recovered)),
      el("td", { class: "num rate" }, rate(figures.recovery_rate)),
      el("td", { class: "num amount" }, amounts(figures.recovered_amounts)),
      el("td", { class: "num median" }, duration(figures.median_recovery_seconds)),
    ];
  }

  function currenciesOf(data) {
    const sums = new Map();
    for (const a of data.total.recovered_amounts) sums.set(a.currency, Number(a.amount));
    return [...sums.keys()].sort((a, b) => sums.get(b) - sums.get(a) || a.localeCompare(b));
  }

  function show(data) {
    report = data;
    document.getElementById("total-failed").textContent = String(data.total.failed);
    document.getElementById("total-recovered").textContent = String(data.total.recovered);
    document.getElementById("total-rate").textContent = rate(data.total.recovery_rate);
    document.getElementById("total-amount").textContent = amounts(data.total.recovered_amounts);
    document.getElementById("total-median").textContent = duration(data.total.median_recovery_seconds);

    const currencies = currenciesOf(data);
    const chosen = currencies.includes(currencySelect.value) ? currencySelect.value : currencies[0] || "";
    clear(currencySelect);
    for (const c of currencies) currencySelect.append(el("option", { value: c, text: c, selected: c === chosen }));
    document.getElementById("currency-choice").hidden = currencies.length < 2;
    drawChart(data.weeks, chosen);

    const body = clear(document.querySelector("#lines tbody"));
    for (const line of data.lines) {
      body.append(el("tr", { "data-employee": line.employee ? line.employee.id : "" },
        el("td", { class: line.employee ? "employee" : "employee nobody" },
          line.employee ? line.employee.name : t("Nobody")), ...cells(line)));
    }
    if (!data.lines.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "empty" }, t("Nothing here"))));
    clear(document.querySelector("#lines tfoot")).append(el("tr", { class: "total" },
      el("td", {}, t("Total")), ...cells(data.total)));
  }

  async function load() {
    document.body.dataset.ready = "no";
    const query = period();
    document.getElementById("csv").href = `/api/v1/reports/recovered.csv?${query}`;
    history.replaceState(null, "", `?${new URLSearchParams({ from: form.elements.from.value,
      to: form.elements.to.value })}`);
    try {
      show(await api("GET", `/reports/recovered?${query}`));
    } catch {
      // api() has flashed the refusal (say, "to" before "from"); the last report stays.
    } finally {
      document.body.dataset.ready = "yes";
    }
  }

  const asked = new URLSearchParams(location.search);
  const fallback = defaultPeriod();
  const isDay = (value) => /^\d{4}-\d{2}-\d{2}$/.test(value || "");
  form.elements.from.value = isDay(asked.get("from")) ? asked.get("from") : fallback.from;
  form.elements.to.value = isDay(asked.get("to")) ? asked.get("to") : fallback.to;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (form.reportValidity()) load();
  });
  currencySelect.addEventListener("change", () => { if (report) drawChart(report.weeks, currencySelect.value); });
  load();
})();
