import { defineConfig } from '../framework/index.js'

/**
 * The chat's own section. `tokenSecret` signs the resume tokens of `/chat/login` (env
 * `CHAT_TOKEN_SECRET` wins over it); empty: a random secret kept in Redis when Redis is on,
 * else a random one per process (a restart then makes pages log in afresh, with the same name).
 */
export default defineConfig('chat', {
  tokenSecret: '',
  /** How long a resume token is valid: 7 days. */
  tokenTtlMs: 7 * 24 * 3600_000,
})
