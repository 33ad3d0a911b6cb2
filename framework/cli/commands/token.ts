import { Command, Flags } from '@oclif/core'
import { makeToken, parseTtl } from '../token.js'
import { readEnvFiles } from '../../server/env-files.js'

/** `sd token --sub <uid>`: prints an HS256 JWT signed with SD_AUTH_JWT_SECRET (for a try of auth). */
export default class Token extends Command {
  static override summary = 'Print an HS256 JWT for a uid, signed with SD_AUTH_JWT_SECRET (or --secret): open the chat page with ?token=<it>, or give it to the SDK\'s token option.'
  static override examples = [
    'SD_AUTH_JWT_SECRET=change-me <%= config.bin %> token --sub alice',
    '<%= config.bin %> token --sub 42 --ttl 15m --secret change-me',
  ]

  static override flags = {
    sub: Flags.string({ description: 'the uid the token is for (its sub claim)', required: true }),
    ttl: Flags.string({ description: 'lifetime: 90s, 15m, 1h, 7d (plain numbers are seconds)', default: '1h' }),
    secret: Flags.string({ description: 'HS256 secret (default: env SD_AUTH_JWT_SECRET, or the file SD_AUTH_JWT_SECRET_FILE names)' }),
    issuer: Flags.string({ description: 'iss claim, when the server checks auth.jwt.issuer' }),
    audience: Flags.string({ description: 'aud claim, when the server checks auth.jwt.audience' }),
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Token)
    try {
      const secret = flags.secret ?? readEnvFiles(process.env).SD_AUTH_JWT_SECRET ?? ''
      this.log(await makeToken({ sub: flags.sub, secret, ttlMs: parseTtl(flags.ttl), issuer: flags.issuer, audience: flags.audience }))
    } catch (err) {
      this.error((err as Error).message, { exit: 2 })
    }
  }
}
