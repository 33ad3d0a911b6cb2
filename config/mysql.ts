import { defineConfig } from '../framework/index.js'

/**
 * MySQL for the chat history. Off by default so the demo starts with nothing installed; set
 * `MYSQL_URL=mysql://root@127.0.0.1:3306/test` (then `npx sd migrate` once) to keep history.
 */
export default defineConfig('mysql', {
  url: '',
  poolMax: 10,
})
