/**
 * The dashboard page, its style and its script, kept as strings so `sd build` and the package
 * carry them with the compiled code (no file to copy). The page holds no data: its script reads
 * the admin token from the URL fragment (`#token=…`, never sent to the server), keeps it in
 * sessionStorage, polls `dashboard/data?since=` every interval with `Authorization: Bearer`
 * (nothing without a token: loopback mode), and plots the series with uPlot (served locally).
 * Each chart's container carries `data-points` (points plotted) for tests and scripts.
 */

/** `GET /dashboard`: no inline script or style (the CSP allows only 'self'). */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SD dashboard</title>
<link rel="stylesheet" href="dashboard/uplot.min.css">
<link rel="stylesheet" href="dashboard/dashboard.css">
<script src="dashboard/uplot.min.js" defer></script>
<script src="dashboard/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>SD <span id="node">…</span></h1>
  <span id="uptime"></span>
  <span id="status" data-state="loading">loading…</span>
</header>
<main>
  <section><h2>Connections</h2><div class="chart" id="chart-connections"></div></section>
  <section><h2>Messages per second</h2><div class="chart" id="chart-messages"></div></section>
  <section><h2>Action latency (ms)</h2><div class="chart" id="chart-latency"></div></section>
  <div id="cluster" hidden>
    <section><h2>Connections per node</h2><div class="chart" id="chart-node-connections"></div></section>
    <section><h2>Messages in per second, per node</h2><div class="chart" id="chart-node-messages"></div></section>
    <section><h2>Latency p99 per node (ms)</h2><div class="chart" id="chart-node-p99"></div></section>
    <section><h2>Link round trip (ms)</h2><div class="chart" id="chart-links"></div></section>
  </div>
</main>
</body>
</html>
`

/** `GET /dashboard/dashboard.css`. */
export const DASHBOARD_CSS = `
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
header { display: flex; gap: 1.5em; align-items: baseline; padding: .6em 1.2em; background: #1d2a44; color: #fff; }
header h1 { margin: 0; font-size: 1.2em; }
#uptime { opacity: .8; }
#status { margin-left: auto; }
#status[data-state="error"] { color: #ffb4a8; font-weight: 600; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 1em; padding: 1em; }
#cluster { display: contents; }
#cluster[hidden] { display: none; }
section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: .5em .8em; min-width: 0; }
section h2 { margin: 0 0 .3em; font-size: 1em; font-weight: 600; }
.chart { min-height: 220px; }
`

/** `GET /dashboard/dashboard.js` (plain ES2020 for the browser; no backquotes in it: it lives in a template string). */
export const DASHBOARD_JS = String.raw`'use strict'
;(() => {
  const KEY = 'sd-admin-token'
  // the token arrives in the fragment (never sent to the server) and stays in this tab only
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash)
  if (m) {
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]))
    history.replaceState(null, '', location.pathname + location.search)
  }
  const token = sessionStorage.getItem(KEY)
  const COLORS = ['#2f6fdf', '#e0542e', '#2a9d5b', '#9b51e0', '#d4a017', '#17a2b8', '#c2185b', '#607d8b']
  const state = { since: 0, windowMs: 600000, intervalMs: 1000, server: [], nodes: new Map(), links: new Map() }
  const charts = {}
  window.sdDashboard = { charts, state }

  const $ = (id) => document.getElementById(id)
  function show (kind, text) {
    const el = $('status')
    el.dataset.state = kind
    el.textContent = text
  }
  function uptime (ms) {
    const s = Math.floor(ms / 1000)
    if (s < 120) return 'up ' + s + ' s'
    if (s < 7200) return 'up ' + Math.floor(s / 60) + ' min'
    if (s < 172800) return 'up ' + Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) + ' min'
    return 'up ' + Math.floor(s / 86400) + ' days'
  }

  // keeps the points of the last window; series are keyed by time (every series of a sample shares it)
  function merge (data) {
    state.windowMs = data.windowMs
    state.intervalMs = data.intervalMs
    if (data.last > state.since) state.since = data.last
    const oldest = state.since - state.windowMs
    state.server = state.server.concat(data.server).filter((p) => p.t > oldest)
    for (const [kind, incoming] of [['nodes', data.nodes], ['links', data.links]]) {
      const all = state[kind]
      for (const [name, points] of Object.entries(incoming)) {
        let byT = all.get(name)
        if (!byT) all.set(name, byT = new Map())
        for (const p of points) byT.set(p.t, p)
      }
      for (const [name, byT] of all) {
        for (const t of byT.keys()) if (t <= oldest) byT.delete(t)
        if (byT.size === 0) all.delete(name)
      }
    }
  }

  const from0 = (u, min, max) => [0, max > 0 ? max * 1.1 : 1]
  // null: nothing to measure in that interval (no action ran), not 0
  const legendValue = (u, v) => (v == null ? '–' : String(Math.round(v * 1000) / 1000))
  // draws one chart; a new set of series makes a new chart
  function plot (id, labels, columns) {
    const el = $(id)
    const xs = state.server.map((p) => p.t / 1000)
    const data = [xs].concat(columns)
    const sig = labels.join('|')
    let c = charts[id]
    if (c && c.sig !== sig) { c.u.destroy(); c = undefined }
    if (!c) {
      const opts = {
        width: Math.max(300, el.clientWidth), height: 200,
        scales: { x: { time: true }, y: { range: from0 } },
        axes: [{}, { size: 56 }],
        series: [{}].concat(labels.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 1.5, value: legendValue }))),
      }
      c = charts[id] = { sig, u: new uPlot(opts, data, el) }
    } else c.u.setData(data)
    // the legend shows the latest values unless the pointer is on the chart; after uPlot's own
    // redraw (a microtask), which would reset it
    const chart = c
    const last = xs.length - 1
    if (last >= 0) queueMicrotask(() => { if (!(chart.u.cursor.left >= 0)) chart.u.setLegend({ idx: last }) })
    el.dataset.points = String(xs.length)
  }
  const column = (byT) => state.server.map((p) => { const v = byT && byT.get(p.t); return v === undefined ? null : v })
  const pick = (map, name, key) => {
    const byT = map.get(name)
    return state.server.map((p) => { const v = byT && byT.get(p.t); return v && v[key] != null ? v[key] : null })
  }

  function render () {
    const s = state.server
    // one line per transport when there are several
    let transports = [...new Set(s.flatMap((p) => Object.keys(p.byTransport)))].sort()
    if (transports.length < 2) transports = []
    plot('chart-connections', ['all'].concat(transports),
      [s.map((p) => p.connections)].concat(transports.map((t) => column(new Map(s.map((p) => [p.t, p.byTransport[t] || 0]))))))
    plot('chart-messages', ['in', 'out'], [s.map((p) => p.messagesInPerSec), s.map((p) => p.messagesOutPerSec)])
    plot('chart-latency', ['p50', 'p99'], [s.map((p) => p.p50Ms), s.map((p) => p.p99Ms)])
    const nodes = [...state.nodes.keys()].sort()
    const links = [...state.links.keys()].sort()
    $('cluster').hidden = nodes.length === 0 && links.length === 0
    if (nodes.length > 0) {
      plot('chart-node-connections', nodes, nodes.map((n) => pick(state.nodes, n, 'connections')))
      plot('chart-node-messages', nodes, nodes.map((n) => pick(state.nodes, n, 'messagesInPerSec')))
      plot('chart-node-p99', nodes, nodes.map((n) => pick(state.nodes, n, 'p99Ms')))
    }
    if (links.length > 0) plot('chart-links', links, links.map((l) => pick(state.links, l, 'rttMs')))
  }

  async function poll () {
    try {
      const res = await fetch('dashboard/data?since=' + state.since, { headers: token ? { authorization: 'Bearer ' + token } : {}, cache: 'no-store' })
      if (res.status === 403) return show('error', 'admin token needed: open /dashboard#token=…')
      if (!res.ok) {
        const body = await res.json().catch(() => ({}))
        return show('error', 'data fetch failed: HTTP ' + res.status + (body.error ? ' ' + body.error.code : ''))
      }
      const data = await res.json()
      $('node').textContent = data.node
      document.title = 'SD ' + data.node
      $('uptime').textContent = uptime(data.uptimeMs)
      merge(data)
      render()
      if (data.error) show('error', 'sampling failed: ' + data.error)
      else if (state.server.length === 0) show('waiting', 'waiting for the first samples…')
      else show('live', 'live, ' + new Date(state.since).toLocaleTimeString())
    } catch (err) {
      show('error', 'server unreachable: ' + (err && err.message))
    } finally {
      setTimeout(poll, state.intervalMs)
    }
  }
  addEventListener('resize', () => {
    for (const id of Object.keys(charts)) charts[id].u.setSize({ width: Math.max(300, $(id).clientWidth), height: 200 })
  })
  poll()
})()
`
