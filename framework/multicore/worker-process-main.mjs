// Entry of a worker process (node:cluster exec). TypeScript runs through tsx's loader, as in
// bin/sd.js; a production build (`sd build`) runs its compiled copy of this folder instead.
// The wiring lives here: worker-process runs the app that server/create-app builds.
const compiled = import.meta.url.endsWith('.mjs') && process.env.SD_COMPILED === '1'
if (!compiled) {
  const { register } = await import('tsx/esm/api')
  register()
}
const ext = compiled ? 'js' : 'ts'
const { runWorker } = await import(`./worker-process.${ext}`)
const { createApp } = await import(`../server/create-app.${ext}`)
await runWorker(createApp)
