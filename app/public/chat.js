// The chat page's client: one WebSocket to /ws, the JSON envelope of docs/transports.md.
const $ = (id) => document.getElementById(id)
const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`)
const waiting = new Map()
let nextId = 1
function call (path, data) {
  const id = nextId++
  ws.send(JSON.stringify({ id, path, data }))
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }))
}
function show (text, cls) {
  const li = document.createElement('li')
  li.textContent = text
  if (cls) li.className = cls
  $('log').append(li)
  li.scrollIntoView()
}
function render (ev) {
  if (ev.type === 'join') return show(`${ev.name}(${ev.uid}) joined ${ev.room}`, 'info')
  if (ev.type === 'leave') return show(`${ev.name}(${ev.uid}) left`, 'info')
  if (ev.type === 'online') { $('status').textContent = `connected, ${ev.count} online`; return }
  if (ev.type === 'say') return show(`${ev.from.name}(${ev.from.uid}) says${ev.private ? ' to you' : ''}: ${ev.text}`, ev.private ? 'private' : '')
  show(JSON.stringify(ev), 'info')
}
ws.onopen = () => { $('status').textContent = 'connected' }
ws.onclose = () => { $('status').textContent = 'disconnected' }
ws.onmessage = (e) => {
  const msg = JSON.parse(e.data)
  const pending = msg.id !== undefined && waiting.get(msg.id)
  if (pending) {
    waiting.delete(msg.id)
    return msg.error ? pending.reject(msg.error) : pending.resolve(msg.data)
  }
  if (msg.error) return show(`${msg.error.code}: ${msg.error.message}`, 'error')
  render(msg.data)
}
$('login').onsubmit = async (e) => {
  e.preventDefault()
  try {
    const me = await call('/chat/login', { name: $('name').value, room: $('room').value || 'lobby' })
    const history = await call('/chat/history', { room: me.room, limit: 50 })
    if (history.length > 0) show(`last ${history.length} message${history.length === 1 ? '' : 's'} in ${me.room}:`, 'info')
    for (const m of history) show(`[${new Date(m.at).toLocaleTimeString()}] ${m.name}(${m.uid}): ${m.text}`, 'past')
    show(`welcome ${me.name}, your uid is ${me.uid} (room ${me.room})`, 'info')
    $('login').hidden = true
    $('say').hidden = false
    $('text').focus()
  } catch (err) { show(`${err.code}: ${err.message}`, 'error') }
}
$('say').onsubmit = async (e) => {
  e.preventDefault()
  const text = $('text').value
  const to = $('to').value.trim()
  try {
    await call('/chat/say', to ? { to, text } : { text })
    show(`me${to ? ` to ${to}` : ''}: ${text}`)
    $('text').value = ''
  } catch (err) { show(`${err.code}: ${err.message}`, 'error') }
}
