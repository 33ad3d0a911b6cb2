#!/usr/bin/env node
// The `sd` executable (oclif). TypeScript runs through tsx's loader, so no build step is needed.
import { register } from 'tsx/esm/api'

register()
const { execute } = await import('@oclif/core')
await execute({ dir: import.meta.url })
