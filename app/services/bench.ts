/** Data of the view benchmark page (`/bench/page`), shared with its fastify + eta baseline. */
export const benchPage = {
  title: 'Rooms & <users>',
  rows: Array.from({ length: 20 }, (_, i) => ({ id: i + 1, name: `room-${i + 1}`, note: i % 3 === 0 ? 'a <b>bold</b> "note"' : 'plain' })),
}
