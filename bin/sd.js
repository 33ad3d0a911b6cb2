#!/usr/bin/env node
// The `sd` executable. TypeScript runs through tsx's loader, so no build step is needed.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../framework/cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
