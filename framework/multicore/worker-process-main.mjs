// Entry of a worker process (node:cluster exec). TypeScript runs through tsx's loader, as in
// bin/sd.js; a production build (`sd build`) runs its compiled copy of this folder instead.
const compiled = import.meta.url.endsWith('.mjs') && process.env.SD_COMPILED === '1'
if (!compiled) {
  const { register } = await import('tsx/esm/api')
  register()
}
const { runWorker } = await import(compiled ? './worker-process.js' : './worker-process.ts')
await runWorker()
