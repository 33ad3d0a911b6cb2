import type { Knex } from '../../framework/index.js'

/** Chat history: one row per room message (private messages are not kept). */
export async function up (knex: Knex): Promise<void> {
  await knex.schema.createTable('chat_messages', (t) => {
    t.bigIncrements('id')
    t.string('room', 64).notNullable()
    t.string('uid', 32).notNullable()
    t.string('name', 64).notNullable()
    t.text('text').notNullable()
    t.timestamp('created_at', { precision: 3 }).notNullable().defaultTo(knex.fn.now(3))
    t.index(['room', 'id'])
  })
  // utf8mb4 so any unicode (emoji included) is stored as sent
  await knex.raw('ALTER TABLE chat_messages CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci')
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.dropTable('chat_messages')
}
