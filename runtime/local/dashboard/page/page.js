// The local dashboard page: the Grafana dashboards as the run's InfluxDB answers their own queries,
// and the pipeline view. Everything it draws comes from the page server's JSON (server.py); plotly.js
// is served by the run, never fetched from the internet.
"use strict";

// -- errors are shown on the page (and counted on <body>) so a headless browser test can read them --
const pageErrors = [];
function recordError(text) {
  pageErrors.push(String(text));
  const pre = document.getElementById("console-errors");
  pre.textContent = pageErrors.join("\n");
  pre.hidden = false;
  document.body.dataset.errors = String(pageErrors.length);
}
window.addEventListener("error", (event) => recordError(event.message));
window.addEventListener("unhandledrejection", (event) => recordError(event.reason));
const consoleError = console.error.bind(console);
console.error = (...args) => { recordError(args.join(" ")); consoleError(...args); };

const TIME_RANGES = [["now-5m", "Last 5 minutes"], ["now-15m", "Last 15 minutes"], ["now-1h", "Last 1 hour"],
  ["now-6h", "Last 6 hours"]];
const COLORS = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#705da0", "#37872d", "#fade2a"];
const PIPELINE_PANELS = [
  {id: "events_in", title: "Events in (acknowledged per second)", unit: "short"},
  {id: "streams", title: "Records delivered to each bucket (per second)", unit: "short"},
  {id: "late_events", title: "Late events (per second)", unit: "short"},
  {id: "lag_ms", title: "Consumer lag (ms behind the stream's newest record)", unit: "ms"},
  {id: "first_row_ms", title: "Freshness: post -> first row (ms, so far)", unit: "ms"},
  {id: "final_row_ms", title: "Freshness: post -> final row (ms, so far)", unit: "ms"},
  {id: "errors", title: "Component errors (so far)", unit: "short"},
  {id: "marks", title: "Faults, phases and parts down", unit: null, table: true},
];

const state = {layout: null, view: null, timer: null, refreshes: 0};

async function getJSON(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function params() { return new URLSearchParams(location.search); }

function viewOf(pathname) {
  if (pathname === "/pipeline") return "pipeline";
  const match = pathname.match(/^\/d\/([^/]+)/);
  return match ? decodeURIComponent(match[1]) : null;
}

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

// -- units, as Grafana formats them ---------------------------------------------------------------

function axisFormat(unit) {
  if (unit === "percentunit") return {tickformat: ".1%"};
  if (unit === "ms") return {ticksuffix: " ms"};
  return {};
}

function cellText(value, column, unit) {
  if (value === null || value === undefined) return "";
  if (column === "time" && typeof value === "number") return new Date(value).toLocaleTimeString();
  if (typeof value === "number") {
    if (unit === "percentunit") return (value * 100).toFixed(2) + "%";
    if (unit === "ms") return value.toFixed(0) + " ms";
    return Number.isInteger(value) ? String(value) : value.toFixed(3);
  }
  return String(value);
}

// -- drawing -----------------------------------------------------------------------------------------

function panelElement(id, title, grid) {
  const panel = element("div", {"class": "panel", "data-panel-id": String(id), "data-title": title, "data-state": "loading"});
  panel.style.gridColumn = `${grid.x + 1} / span ${grid.w}`;
  panel.style.gridRow = `${grid.y + 1} / span ${grid.h}`;
  const header = element("div", {"class": "header"});
  const inspect = element("button", {"class": "inspect", type: "button", hidden: ""}, "query");
  inspect.addEventListener("click", () => toggleQueries(panel));
  header.append(element("h2", {title}, title), inspect);
  panel.append(header);
  const body = element("div", {"class": "body"});
  body.append(element("div", {"class": "plot"}));
  panel.append(body);
  return panel;
}

function showMessage(panel, text, stateName) {
  const body = panel.querySelector(".body");
  body.replaceChildren(element("div", {"class": "message"}, text));
  panel.dataset.state = stateName;
}

function plotBody(panel) {
  const body = panel.querySelector(".body");
  let plot = body.querySelector(".plot");
  if (!plot) {
    body.replaceChildren();
    plot = element("div", {"class": "plot"});
    body.append(plot);
  }
  return plot;
}

const MARK_COLORS = {fault: "#f2495c", phase: "#8e8e8e"};

function drawSeries(panel, series, unit, range, marks = []) {
  const hasData = series.some((s) => s.y.some((v) => v !== null));
  if (!hasData) { showMessage(panel, "No data", "empty"); return; }
  const traces = series.map((s, index) => ({
    x: s.x.map((t) => new Date(t)), y: s.y, name: s.name, type: "scatter", mode: "lines+markers",
    line: {color: COLORS[index % COLORS.length], width: 2}, marker: {size: 5}, connectgaps: false,
  }));
  // Faults and phases on the time axis: a dotted line where each began, labelled by its first word.
  const shapes = marks.map((m) => ({type: "line", x0: new Date(m.at_ms), x1: new Date(m.at_ms), yref: "paper", y0: 0, y1: 1,
    line: {color: MARK_COLORS[m.kind], dash: "dot", width: 1}}));
  const annotations = marks.map((m) => ({x: new Date(m.at_ms), yref: "paper", y: 1, text: m.text.split(" ")[0],
    showarrow: false, font: {color: MARK_COLORS[m.kind], size: 10}, xanchor: "left", yanchor: "top", textangle: -90}));
  const layout = {
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: {color: "#ccccdc", size: 11},
    margin: {l: 64, r: 12, t: 6, b: 24}, showlegend: true,
    legend: {orientation: "h", x: 0, y: 1, yanchor: "bottom", font: {size: 10}, bgcolor: "rgba(0,0,0,0)"},
    // A dashboard's range is minutes to hours; the pipeline view's samples are seconds apart.
    xaxis: {type: "date", gridcolor: "#2c3235", range: range ? range.map((t) => new Date(t)) : undefined,
      tickformat: range ? "%H:%M" : "%H:%M:%S", hoverformat: "%H:%M:%S"},
    yaxis: {gridcolor: "#2c3235", rangemode: "tozero", ...axisFormat(unit)}, shapes, annotations,
  };
  Plotly.react(plotBody(panel), traces, layout, {displayModeBar: false, responsive: true});
  panel.dataset.state = "data";
}

function drawTable(panel, table, unit) {
  if (!table.rows.length) { showMessage(panel, "No data", "empty"); return; }
  const head = element("tr");
  for (const column of table.columns) head.append(element("th", {}, column));
  const rows = table.rows.map((row) => {
    const tr = element("tr");
    row.forEach((value, index) => {
      tr.append(element("td", typeof value === "number" ? {"class": "number"} : {}, cellText(value, table.columns[index], unit)));
    });
    return tr;
  });
  const tableNode = element("table");
  tableNode.append(element("thead"), element("tbody"));
  tableNode.tHead.append(head);
  tableNode.tBodies[0].append(...rows);
  panel.querySelector(".body").replaceChildren(tableNode);
  panel.dataset.state = "data";
}

// The queries as sent, behind a "query" toggle in the panel's header (Grafana's query inspector, in short).
function addQueries(panel, queries) {
  panel.querySelector(".queries")?.remove();
  panel.querySelector(".inspect").hidden = !queries.length;
  if (!queries.length) return;
  const overlay = element("div", {"class": "queries", hidden: ""});
  for (const query of queries) overlay.append(element("pre", {}, query));
  panel.append(overlay);
}

function toggleQueries(panel) {
  const overlay = panel.querySelector(".queries");
  if (overlay) overlay.hidden = !overlay.hidden;
}

// -- a dashboard ---------------------------------------------------------------------------------------

function choiceQuery() {
  const search = params();
  const out = new URLSearchParams();
  for (const [key, value] of search) if (key.startsWith("var-") || key === "datasource" || key === "from") out.append(key, value);
  return out;
}

function setParam(name, values) {
  const search = params();
  search.delete(name);
  for (const value of values) search.append(name, value);
  history.replaceState(null, "", `${location.pathname}?${search}`);
}

function select(labelText, name, options, chosen, multi, onChange) {
  const label = element("label", {}, labelText);
  const node = element("select", multi ? {multiple: "", size: "3", "data-variable": name} : {"data-variable": name});
  for (const [value, text] of options) {
    const option = element("option", {value}, text);
    option.selected = chosen.includes(value);
    node.append(option);
  }
  node.addEventListener("change", () => onChange([...node.selectedOptions].map((o) => o.value)));
  label.append(node);
  return label;
}

async function buildFilters(dashboard) {
  const filters = document.getElementById("filters");
  filters.replaceChildren();
  const search = params();
  const databases = state.layout.databases;
  const database = search.get("datasource") || databases[0];
  filters.append(select("Sessions InfluxDB (region)", "datasource", databases.map((d) => [d, d]), [database], false,
    (values) => { setParam("datasource", values); buildFilters(dashboard).then(refresh); }));
  const options = await getJSON(`/api/d/${encodeURIComponent(dashboard.uid)}/variables?datasource=${encodeURIComponent(database)}`);
  for (const variable of dashboard.variables) {
    const chosen = search.getAll(`var-${variable.name}`);
    const values = [["$__all", "All"], ...(options[variable.name] || []).map((v) => [v, v])];
    filters.append(select(variable.label, variable.name, values, chosen.length ? chosen : ["$__all"], true,
      (picked) => { setParam(`var-${variable.name}`, picked.includes("$__all") || !picked.length ? [] : picked); refresh(); }));
  }
  const from = search.get("from") || dashboard.time.from;
  filters.append(select("Time range", "from", TIME_RANGES, [from], false, (values) => { setParam("from", values); refresh(); }));
}

function timeRange(from) {
  const match = /^now-(\d+)([smhd])$/.exec(from || "");
  const unit = {s: 1e3, m: 6e4, h: 36e5, d: 864e5};
  const now = Date.now();
  return match ? [now - Number(match[1]) * unit[match[2]], now] : null;
}

async function refreshDashboard(dashboard) {
  const answer = await getJSON(`/api/d/${encodeURIComponent(dashboard.uid)}/panels?${choiceQuery()}`);
  const range = timeRange(params().get("from") || dashboard.time.from);
  for (const data of answer.panels) {
    const panel = document.querySelector(`.panel[data-panel-id="${data.id}"]`);
    const meta = dashboard.panels.find((p) => p.id === data.id);
    if (data.error) showMessage(panel, data.error, "error");
    else if (data.table) drawTable(panel, data.table, meta.unit);
    else drawSeries(panel, data.series, meta.unit, range);
    addQueries(panel, data.queries);
  }
  return answer.at_ms;
}

// -- the pipeline view -----------------------------------------------------------------------------------

function pipelineSeries(view, id) {
  const x = view.times;
  const value = view[id];
  if (Array.isArray(value)) return [{name: id.replace(/_/g, " "), x, y: value}];
  return Object.entries(value).map(([name, y]) => ({name, x, y}));
}

async function refreshPipeline() {
  const view = await getJSON("/api/pipeline");
  for (const meta of PIPELINE_PANELS) {
    const panel = document.querySelector(`.panel[data-panel-id="${meta.id}"]`);
    if (meta.table) {
      const rows = [...view.marks.map((m) => [m.at_ms, m.kind, m.text]), ...view.down.map((part) => [null, "down now", part])];
      drawTable(panel, {columns: ["time", "what", "description"], rows}, null);
      if (!rows.length) showMessage(panel, `Nothing yet (phase: ${view.phase || "starting"})`, "data");
      continue;
    }
    drawSeries(panel, pipelineSeries(view, meta.id), meta.unit, null, view.marks);
  }
  return Date.now();
}

// -- the page ------------------------------------------------------------------------------------------------

async function refresh() {
  try {
    const at = state.view === "pipeline" ? await refreshPipeline() : await refreshDashboard(state.dashboard);
    document.getElementById("updated").textContent = `updated ${new Date(at).toLocaleTimeString()}`;
  } catch (error) {
    recordError(error.message || error);
  } finally {
    state.refreshes += 1;
    document.body.dataset.rendered = String(state.refreshes);
  }
}

function buildTabs() {
  const tabs = document.getElementById("tabs");
  const keep = choiceQuery().toString();
  for (const dashboard of state.layout.dashboards) {
    const link = element("a", {href: `/d/${encodeURIComponent(dashboard.uid)}${keep ? "?" + keep : ""}`}, dashboard.title);
    if (state.view === dashboard.uid) link.classList.add("current");
    tabs.append(link);
  }
  const pipeline = element("a", {href: "/pipeline"}, "Pipeline");
  if (state.view === "pipeline") pipeline.classList.add("current");
  tabs.append(pipeline);
}

async function main() {
  state.layout = await getJSON("/api/dashboards");
  const queryable = state.layout.store === "influxdb";
  state.view = viewOf(location.pathname) || (queryable ? state.layout.dashboards[0].uid : "pipeline");
  if (!queryable && state.view !== "pipeline") {
    const note = document.getElementById("note");
    note.textContent = state.layout.note;
    note.hidden = false;
    state.view = "pipeline";
  }
  document.body.dataset.view = state.view;
  buildTabs();
  const grid = document.getElementById("grid");
  let seconds = 5;
  if (state.view === "pipeline") {
    PIPELINE_PANELS.forEach((meta, index) => grid.append(panelElement(meta.id, meta.title,
      {x: (index % 2) * 12, y: Math.floor(index / 2) * 8, w: 12, h: 8})));
  } else {
    state.dashboard = state.layout.dashboards.find((d) => d.uid === state.view);
    document.title = `${state.dashboard.title} - prism-pipeline local`;
    for (const panel of state.dashboard.panels) grid.append(panelElement(panel.id, panel.title, panel.grid));
    await buildFilters(state.dashboard);
    seconds = state.dashboard.refresh_seconds;
  }
  await refresh();
  state.timer = setInterval(refresh, seconds * 1000);
}

main().catch((error) => recordError(error.message || error));
