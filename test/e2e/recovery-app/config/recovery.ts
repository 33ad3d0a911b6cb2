import { defineConfig } from '../../../../framework/index.js'

/** Every uid send and the `room*` groups are recoverable; REC_E2E_STORE picks the store. */
export default defineConfig('recovery', {
  store: (process.env.REC_E2E_STORE ?? 'auto') as 'auto' | 'memory' | 'redis',
  uids: true,
  groups: ['room*'],
})
