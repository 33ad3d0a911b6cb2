import { defineConfig } from '../../../../framework/index.js'

/** The recovery tests' app (test/e2e/recovery*.test.ts): one controller that logs in and sends recoverable pushes. */
export default defineConfig('app', {
  name: 'sd-recovery-test',
  logLevel: 'info',
})
