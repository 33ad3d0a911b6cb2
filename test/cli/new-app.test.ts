/** `sd new`: the app template rendered without writing anything (the e2e test installs and runs one). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { NameError } from '../../framework/cli/generate.js'
import { newAppData, packageNameOf, planNewApp } from '../../framework/cli/new-app.js'

test('every file of templates/app renders: package, tsconfig, folders, config, a test, README', async () => {
  const data = await newAppData('MyChatApp')
  const files = await planNewApp(data)
  const byPath = new Map(files.map((f) => [f.path, f.content]))
  assert.deepEqual([...byPath.keys()].sort(), [
    '.gitignore', 'README.md',
    'app/controllers/HomeController.ts', 'app/models/.gitkeep', 'app/tasks/.gitkeep', 'app/timers/.gitkeep', 'app/views/home.eta',
    'config/app.ts', 'config/routes.ts', 'config/server.ts', 'config/timers.ts',
    'package.json', 'test/home.test.ts', 'tsconfig.json',
  ])
  const pkg = JSON.parse(byPath.get('package.json') ?? '') as { name: string, type: string, scripts: Record<string, string>, dependencies: Record<string, string>, devDependencies: Record<string, string> }
  assert.equal(pkg.name, 'my-chat-app')
  assert.equal(pkg.type, 'module')
  assert.equal(pkg.scripts.start, 'sd start')
  assert.match(pkg.scripts.test, /^tsc --noEmit && node --import tsx --test/)
  assert.match(pkg.dependencies['sd-framework'], /^file:\/.+[^/]$/)
  for (const dep of ['typescript', 'tsx', '@types/node']) assert.match(pkg.devDependencies[dep], /^\^\d/, dep)
  assert.match(byPath.get('config/app.ts') ?? '', /name: 'my-chat-app'/)
  assert.match(byPath.get('app/controllers/HomeController.ts') ?? '', /title: 'MyChatApp'/)
  assert.match(byPath.get('README.md') ?? '', /^# MyChatApp\n/)
  assert.match(byPath.get('README.md') ?? '', /"sd-framework": "\^0\.1\.0"/)
  assert.match(byPath.get('app/views/home.eta') ?? '', /<h1><%= it\.title %><\/h1>/, 'the new app\'s own views keep their eta tags')
  for (const [path, content] of byPath) {
    if (!path.endsWith('.eta')) assert.doesNotMatch(content, /<%|%>/, `${path} is fully rendered`)
  }
  assert.ok(JSON.parse(byPath.get('tsconfig.json') ?? ''), 'tsconfig.json is JSON')
  assert.match(byPath.get('config/timers.ts') ?? '', /export default defineConfig<TimersConfig>\(\{\n\}\)/, 'config/timers.ts: an empty schedule to fill in')
})

test('names: a package name from any case; junk refused before anything is rendered', async () => {
  assert.equal(packageNameOf('MyApp'), 'my-app')
  assert.equal(packageNameOf('my_app'), 'my-app')
  for (const bad of ['', '123', '../x', 'a/b']) await assert.rejects(newAppData(bad), NameError, bad)
})
