/**
 * Input validation by JSON schema on an action (`static schemas = { login: {...} }`), compiled
 * once at boot with Ajv (the validator fastify uses) and applied on every transport before the
 * action runs. TypeBox schemas are JSON schemas and work as they are.
 *
 * HTTP data (query strings) is coerced to the schema's types ('10' → 10); data from TCP,
 * WebSocket and the text port is already typed and is checked strictly. Defaults in the schema
 * are filled in on both.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import type { TransportName } from './contract.js'
import { SdError } from './errors.js'

/** A JSON schema (or a TypeBox schema) for an action's data. */
export type Schema = Record<string, unknown>

/** Checks an action's data; returns the error to send, or undefined when the data is valid. */
export type ActionValidator = (data: unknown, transport: TransportName) => SdError | undefined

const strict = new Ajv({ allErrors: false, useDefaults: true, coerceTypes: false, strict: false })
const coercing = new Ajv({ allErrors: false, useDefaults: true, coerceTypes: 'array', strict: false })

/** `name must NOT have fewer than 1 characters`, `must have required property 'name'`. */
export function describeError (e: ErrorObject): string {
  const field = e.instancePath.replace(/^\//, '').replace(/\//g, '.')
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty
    return `${field ? `${field}.` : ''}${missing} is required`
  }
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty
    return `${field ? `${field}.` : ''}${extra} is not allowed`
  }
  return `${field || 'data'} ${e.message ?? 'is invalid'}`
}

function failure (validate: ValidateFunction): SdError {
  const first = validate.errors?.[0]
  return new SdError('SD_ERR_VALIDATION', first ? describeError(first) : 'data does not match the schema')
}

/** Compiles `schema`; throws `SD_ERR_CONTROLLER_INVALID` naming the action when it is not a valid schema. */
export function compileValidator (schema: Schema, action: string): ActionValidator {
  let typed: ValidateFunction
  let loose: ValidateFunction | undefined
  try {
    typed = strict.compile(schema)
  } catch (err) {
    throw new SdError('SD_ERR_CONTROLLER_INVALID', `${action}: bad schema: ${(err as Error).message}`)
  }
  return (data, transport) => {
    if (transport === 'http') {
      loose ??= coercing.compile(schema)
      return loose(data) ? undefined : failure(loose)
    }
    return typed(data) ? undefined : failure(typed)
  }
}
