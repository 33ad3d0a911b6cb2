import { defineConfig } from 'sd-framework'

/** Custom routes; everything else is `/name/method` by convention. */
export default defineConfig('routes', {
  'GET /': 'Home.index',
})
