// The layer order of framework/, lowest first: the one written list that the lint rule
// `layers/layer-order` enforces and docs/architecture.md quotes. A file in one folder may
// import (types included) only from its own folder or from a folder earlier in this list.
// framework/index.ts (the public API) and the `*.mjs` entry files may import anything.
// A new folder under framework/ must be added here before anything in it passes lint.
export const layers = [
  { folder: 'client', what: 'the client SDK and its wire types: first, so it imports nothing else of the framework (it is built for browsers)' },
  { folder: 'core', what: 'router, controller base, errors, hooks, validation, the dispatch pipeline, the application contract' },
  { folder: 'connection', what: 'connection, connection table, heartbeat, send budget, the bus interface and local bus' },
  { folder: 'transport', what: 'tcp, text, http, ws, framing, packs, admission, rate limit, the transport registry' },
  { folder: 'data', what: 'mysql, redis, model, migrations' },
  { folder: 'view', what: 'eta views' },
  { folder: 'task', what: 'task worker threads' },
  { folder: 'timer', what: 'timers' },
  { folder: 'cluster', what: 'the dispatch cluster: links, dispatch server, registry, messenger, carriers, cluster bus' },
  { folder: 'multicore', what: 'node:cluster multi-core: primary, worker processes, ipc protocol, membership' },
  { folder: 'gateway', what: 'gateway/worker split: the gateway\'s link server and routing, the worker\'s links and bus, the gateway registry' },
  { folder: 'metrics', what: 'Prometheus metrics (prom-client), the per-process snapshot, merging across processes, the sampled series' },
  { folder: 'admin', what: 'the admin listener: /metrics, the dashboard, POST /sd/publish, the admin token guard' },
  { folder: 'server', what: 'composition: config, Application, createApp' },
  { folder: 'cli', what: 'oclif commands' },
]

/** Files under framework/ that the layer rule does not check (wiring that may import anything). */
export const layerExempt = ['framework/index.ts', 'framework/**/*.mjs']
