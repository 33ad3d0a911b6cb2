import { defineConfig } from '../framework/index.js'

/** Custom routes; everything else is `/name/method` by convention. */
export default defineConfig('routes', {
  'GET /': 'Home.index',
  'GET /status': 'Home.status',
})
