// A worker process entry for the multi-core meta test: the real runWorker (MulticoreBus, IPC
// with the real primary) running meta-app.ts's app instead of the demo app.
const { register } = await import('tsx/esm/api')
register()
const { runWorker } = await import('../../framework/multicore/worker-process.ts')
const { metaApp } = await import('./meta-app.ts')
await runWorker(metaApp)
