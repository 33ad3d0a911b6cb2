// The chat page: one reconnecting WebSocket to /ws (chat-socket.js). After a close it waits a
// jittered, growing delay, reconnects, logs in again with the same name and room, and sends the
// messages typed meanwhile (at most MAX_OUTBOX wait; past that the text stays in the box).
import { ChatSocket, DISCONNECTED } from './chat-socket.js'

const MAX_OUTBOX = 20
const $ = (id) => document.getElementById(id)
const sock = new ChatSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`)

let wanted = null // {name, room} once the user has asked to join; kept across reconnects
let me = null // {uid, name, room} while logged in on the current connection
let lastUid = null
let online = null
let lost = false // the connection dropped and has not been back since (reported once)
let countdown
const outbox = [] // {to, text, li}: shown in the log, sent in order once logged in

function show (text, cls) {
  const li = document.createElement('li')
  li.textContent = text
  if (cls) li.className = cls
  $('log').append(li)
  li.scrollIntoView({ block: 'nearest' })
  return li
}

function render (ev) {
  if (ev.type === 'join') return show(`${ev.name}(${ev.uid}) joined ${ev.room}`, 'info')
  if (ev.type === 'leave') return show(`${ev.name}(${ev.uid}) left`, 'info')
  if (ev.type === 'online') { online = ev.count; return showStatus() }
  if (ev.type === 'say') return show(`${ev.from.name}(${ev.from.uid}) says${ev.private ? ' to you' : ''}: ${ev.text}`, ev.private ? 'private' : '')
  show(JSON.stringify(ev), 'info')
}

// ---- state shown in the header: "connecting…", "reconnecting in 3 s…", "connected as …"
function showStatus () {
  const el = $('status')
  el.dataset.state = sock.status
  $('retry').hidden = sock.status !== 'waiting'
  if (sock.status === 'connecting') el.textContent = lost ? 'reconnecting…' : 'connecting…'
  else if (sock.status === 'waiting') el.textContent = `disconnected, reconnecting in ${Math.max(1, Math.ceil((sock.retryAt - Date.now()) / 1000))} s…`
  else if (!me) el.textContent = wanted ? 'connected, logging in…' : 'connected'
  else el.textContent = `connected as ${me.name} (uid ${me.uid}) in ${me.room}${online === null ? '' : ` · ${online} online`}`
}

const retry = document.createElement('button')
retry.id = 'retry'
retry.type = 'button'
retry.textContent = 'retry now'
retry.hidden = true
retry.onclick = () => sock.retryNow()
$('status').after(retry)

sock.on('status', (status, info) => {
  clearInterval(countdown)
  if (status === 'waiting') {
    if (!lost) show(`connection lost (code ${info.code}); reconnecting…`, 'info')
    lost = true
    me = null
    online = null
    countdown = setInterval(showStatus, 1000)
  }
  showStatus()
})
sock.on('push', (data, error) => {
  if (!error) return render(data)
  // sent just before the 1001 close of a restart or `sd reload`: news, not a failure
  if (error.code === 'SD_ERR_SHUTTING_DOWN') return show('the server is restarting…', 'info')
  show(`${error.code}: ${error.message}`, 'error')
})
sock.on('open', () => { lost = false; void login() })

// ---- login: first from the form, then again after every reconnect
async function login () {
  if (!wanted || sock.status !== 'connected') return showStatus()
  showStatus()
  let got
  try {
    got = await sock.call('/chat/login', wanted)
  } catch (err) {
    if (err.code === DISCONNECTED) return
    show(`${err.code}: ${err.message}`, 'error')
    wanted = null
    $('login').hidden = false
    $('say').hidden = true
    return showStatus()
  }
  me = got
  if (lastUid === null) await firstHistory()
  else show(`reconnected: logged in again as ${me.name}, uid ${me.uid}${me.uid === lastUid ? '' : ` (was ${lastUid})`} in ${me.room}`, 'info')
  if (lastUid === null) show(`welcome ${me.name}, your uid is ${me.uid} (room ${me.room})`, 'info')
  lastUid = me.uid
  $('login').hidden = true
  $('say').hidden = false
  $('text').focus()
  showStatus()
  void flush()
}

async function firstHistory () {
  try {
    const history = await sock.call('/chat/history', { room: me.room, limit: 50 })
    if (history.length > 0) show(`last ${history.length} message${history.length === 1 ? '' : 's'} in ${me.room}:`, 'info')
    for (const m of history) show(`[${new Date(m.at).toLocaleTimeString()}] ${m.name}(${m.uid}): ${m.text}`, 'past')
  } catch (err) { show(`history: ${err.code}: ${err.message}`, 'error') }
}

$('login').onsubmit = (e) => {
  e.preventDefault()
  wanted = { name: $('name').value, room: $('room').value || 'lobby' }
  void login()
}

// ---- sending: every message goes through the outbox, so one typed offline waits there
let flushing = false
async function flush () {
  if (flushing) return
  flushing = true
  try {
    while (outbox.length > 0 && me) {
      const item = outbox[0]
      item.li.className = 'sending'
      try {
        await sock.call('/chat/say', item.to ? { to: item.to, text: item.text } : { text: item.text })
        item.li.className = ''
        item.li.textContent = label(item) + (item.waited ? ' (sent after reconnecting)' : '')
      } catch (err) {
        if (err.code === DISCONNECTED) { queued(item); break }
        item.li.className = 'error'
        item.li.textContent = `${label(item)} — not sent: ${err.code}: ${err.message}`
        if ($('text').value === '') $('text').value = item.text
      }
      outbox.shift()
    }
  } finally { flushing = false }
  if (outbox.length > 0 && me) void flush()
}

const label = (item) => `me${item.to ? ` to ${item.to}` : ''}: ${item.text}`
function queued (item) {
  item.waited = true
  item.li.className = 'queued'
  item.li.textContent = `${label(item)} — waiting for the connection; sent after reconnecting`
}

$('say').onsubmit = (e) => {
  e.preventDefault()
  const text = $('text').value
  if (outbox.length >= MAX_OUTBOX) {
    show(`${outbox.length} messages are already waiting for the connection; your text stays in the box`, 'error')
    return
  }
  const item = { to: $('to').value.trim(), text }
  item.li = show(label(item), 'sending')
  if (!me) queued(item)
  outbox.push(item)
  $('text').value = ''
  void flush()
}

// a reload or a closed tab would drop the waiting messages: ask first
addEventListener('beforeunload', (e) => { if (outbox.length > 0) e.preventDefault() })
showStatus()
