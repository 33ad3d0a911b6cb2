// The chat page on the client SDK (/sd/client.js): one WebSocket to /ws that reconnects by
// itself (jittered backoff). Login hands out a resume token, kept in sessionStorage (this tab
// only): after a reconnect, or a reload of the page, `/chat/resume` gives the same uid and room
// back, and the SDK then recovers what the room and this uid were sent meanwhile, shown marked
// as missed. A token the server refuses (a restart without a shared secret) means a fresh
// login with the same name. Messages typed while down wait in the outbox (at most MAX_OUTBOX).
// While the SDK waits before its next attempt the header counts down to it, with a "retry now"
// button (sd.retryNow()); the SDK itself retries at once when the browser comes back online.
// A server with authentication on (SD_AUTH_JWT_SECRET) wants a JWT: open the page with
// `?token=<jwt>` (`npx sd token --sub alice`); the SDK sends it with `/sd/auth` on every
// (re)connect and the uid is the token's sub. The token leaves the address bar at once and is
// kept in sessionStorage (this tab only) for reloads.
import { connect } from '/sd/client.js'

const MAX_OUTBOX = 20
const TOKEN = 'sd-chat-token'
const WANTED = 'sd-chat-wanted'
const AUTH_TOKEN = 'sd-auth-token'
const DISCONNECTED = 'SD_ERR_CLIENT_DISCONNECTED'
const AUTH_ERRORS = ['SD_ERR_UNAUTHENTICATED', 'SD_ERR_TOKEN_EXPIRED', 'SD_ERR_AUTH_TIMEOUT']
const $ = (id) => document.getElementById(id)
const authToken = readAuthToken()

let wanted = readWanted() // {name, room} once the user has asked to join; kept across reconnects and reloads
let me = null // {uid, name, room} while signed in on the current connection
let lastUid = null
let online = null
let lost = false // the connection dropped and has not been back since (reported once)
let awayShown = false // the "while you were away" line of this reconnect is shown
let countdown
const outbox = [] // {to, text, li}: shown in the log, sent in order once signed in

// wss: when the page came over https (TLS on the HTTP port)
const sd = connect(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`, {
  // on every reconnect, before the SDK recovers missed pushes and sends queued calls
  onReconnect: ({ call }) => signIn(call),
  ...(authToken ? { token: authToken } : {}),
})

function readWanted () {
  try { return JSON.parse(sessionStorage.getItem(WANTED) ?? 'null') } catch { return null }
}

// `?token=` from the address (then removed from it), else the one an earlier load of this tab kept
function readAuthToken () {
  const url = new URL(location.href)
  const given = url.searchParams.get('token')
  if (given === null) return sessionStorage.getItem(AUTH_TOKEN)
  sessionStorage.setItem(AUTH_TOKEN, given)
  url.searchParams.delete('token')
  history.replaceState(null, '', url)
  return given
}

// the server wants a token this page has not got (or it was refused, or expired): say why, and
// stop reconnecting (a new attempt would be refused the same way)
let authStopped = false
function authFailed (err) {
  if (authStopped) return
  authStopped = true
  if (!authToken && err.code === 'SD_ERR_UNAUTHENTICATED') {
    show('this server requires a token: open this page with ?token=<jwt> (make one with: npx sd token --sub <uid>)', 'error auth')
  } else {
    show(`${err.code}: ${err.message}${authToken ? ' (open this page with a fresh ?token=)' : ''}`, 'error auth')
  }
  sessionStorage.removeItem(AUTH_TOKEN)
  sd.close()
}

function show (text, cls) {
  const li = document.createElement('li')
  li.textContent = text
  if (cls) li.className = cls
  $('log').append(li)
  li.scrollIntoView({ block: 'nearest' })
  return li
}

function render (ev, missed) {
  const cls = missed ? 'missed' : ''
  if (ev.type === 'join') return show(`${ev.name}(${ev.uid}) joined ${ev.room}`, 'info')
  if (ev.type === 'leave') return show(`${ev.name}(${ev.uid}) left`, 'info')
  if (ev.type === 'online') { online = ev.count; return showStatus() }
  if (ev.type === 'notice') return show(`notice: ${ev.text}`, 'info notice')
  if (ev.type === 'say') return show(`${ev.from.name}(${ev.from.uid}) says${ev.private ? ' to you' : ''}: ${ev.text}`, `${ev.private ? 'private' : ''} ${cls}`.trim())
  show(JSON.stringify(ev), 'info')
}

// ---- state shown in the header: "connecting…", "disconnected, reconnecting in 3 s…" (with a
// "retry now" button while the SDK waits), "connected as …"
const retry = document.createElement('button')
retry.id = 'retry'
retry.type = 'button'
retry.textContent = 'retry now'
retry.hidden = true
retry.onclick = () => { sd.retryNow(); showStatus() }
$('status').after(retry)

function showStatus () {
  const el = $('status')
  el.dataset.state = sd.status
  // when the next attempt starts (ms since the epoch), while the SDK waits for it
  el.dataset.retryAt = String(sd.retryAt)
  retry.hidden = sd.retryAt === 0
  const wait = sd.retryAt === 0 ? '…' : ` in ${Math.max(1, Math.ceil((sd.retryAt - Date.now()) / 1000))} s…`
  if (sd.status === 'connecting') el.textContent = sd.retryAt === 0 ? 'connecting…' : `cannot connect, retrying${wait}`
  else if (sd.status === 'reconnecting') el.textContent = `disconnected, reconnecting${wait}`
  else if (sd.status === 'closed') el.textContent = 'closed'
  else if (!me) el.textContent = wanted ? 'connected, logging in…' : 'connected'
  else el.textContent = `connected as ${me.name} (uid ${me.uid}) in ${me.room}${online === null ? '' : ` · ${online} online`}`
}

// a status event comes with each change, and with each wait before another attempt
sd.on('status', (status) => {
  clearInterval(countdown)
  if (status === 'reconnecting') {
    if (!lost) {
      lost = true
      show('connection lost; reconnecting…', 'info')
    }
    me = null
    online = null
    awayShown = false
  }
  // the countdown to the next attempt, and "reconnecting…" once it runs
  if (status === 'reconnecting' || status === 'connecting') countdown = setInterval(showStatus, 250)
  if (status === 'open') {
    lost = false
    // first connect (or a reload): sign in with the stored token; reconnects did it in onReconnect
    if (!me && wanted) void signIn((path, data) => sd.call(path, data)).catch(failed)
    else if (me) void flush()
  }
  showStatus()
})

sd.on('push', (data, meta) => {
  // an error pushed without a request (a server going away) carries no data: its close is news enough
  if (data === undefined || data === null) return
  if (meta.recovered && !awayShown) {
    awayShown = true
    show('while you were away:', 'info away')
  }
  render(data, meta.recovered)
})
// a refused /sd/auth, or a token that expired with no new one to send
sd.on('error', (err) => { if (AUTH_ERRORS.includes(err.code)) authFailed(err) })
sd.on('gap', ({ stream }) => {
  const what = stream.startsWith('uid:') ? 'private messages' : `messages in ${stream.slice('group:'.length)}`
  show(`some ${what} sent while you were away are no longer kept on the server and are missing here`, 'info gap')
})

// ---- sign in: resume with the token when there is one, else log in (first from the form)
async function signIn (call) {
  if (!wanted) return
  const token = sessionStorage.getItem(TOKEN)
  let got
  let resumed = false
  if (token) {
    try {
      got = await call('/chat/resume', { token })
      resumed = true
    } catch (err) {
      if (err.code !== 'CHAT_ERR_BAD_TOKEN' && err.code !== 'SD_ERR_VALIDATION') throw err
      sessionStorage.removeItem(TOKEN) // a restarted server without a shared secret: log in afresh
    }
  }
  got ??= await call('/chat/login', wanted)
  signedIn(got, resumed)
}

function signedIn (got, resumed) {
  me = { uid: got.uid, name: got.name, room: got.room }
  sessionStorage.setItem(TOKEN, got.token)
  if (lastUid === null) {
    show(`welcome ${me.name}, your uid is ${me.uid} (room ${me.room})`, 'info')
    void firstHistory()
  } else if (resumed && me.uid === lastUid) show(`reconnected as ${me.name}, uid ${me.uid} in ${me.room}`, 'info')
  else show(`reconnected: logged in again as ${me.name}, uid ${me.uid}${me.uid === lastUid ? '' : ` (was ${lastUid})`} in ${me.room}`, 'info')
  lastUid = me.uid
  $('login').hidden = true
  $('say').hidden = false
  $('text').focus()
  showStatus()
  if (sd.status === 'open') void flush()
}

function failed (err) {
  if (err.code === DISCONNECTED) return
  if (AUTH_ERRORS.includes(err.code)) return authFailed(err)
  show(`${err.code}: ${err.message}`, 'error')
  wanted = null
  sessionStorage.removeItem(WANTED)
  $('login').hidden = false
  $('say').hidden = true
  showStatus()
}

async function firstHistory () {
  try {
    const history = await sd.call('/chat/history', { room: me.room, limit: 50 })
    if (history.length > 0) show(`last ${history.length} message${history.length === 1 ? '' : 's'} in ${me.room}:`, 'info')
    for (const m of history) show(`[${new Date(m.at).toLocaleTimeString()}] ${m.name}(${m.uid}): ${m.text}`, 'past')
  } catch (err) { show(`history: ${err.code}: ${err.message}`, 'error') }
}

$('login').onsubmit = (e) => {
  e.preventDefault()
  wanted = { name: $('name').value, room: $('room').value || 'lobby' }
  sessionStorage.setItem(WANTED, JSON.stringify(wanted))
  sessionStorage.removeItem(TOKEN) // a new name or room: not the old token's
  lastUid = null
  if (sd.status === 'open') void signIn((path, data) => sd.call(path, data)).catch(failed)
  showStatus()
}

// ---- sending: every message goes through the outbox, so one typed offline waits there
let flushing = false
async function flush () {
  if (flushing) return
  flushing = true
  try {
    while (outbox.length > 0 && me && sd.status === 'open') {
      const item = outbox[0]
      item.li.className = 'sending'
      try {
        await sd.call('/chat/say', item.to ? { to: item.to, text: item.text } : { text: item.text })
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
  if (outbox.length > 0 && me && sd.status === 'open') void flush()
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
  if (!me || sd.status !== 'open') queued(item)
  outbox.push(item)
  $('text').value = ''
  void flush()
}

// a reload or a closed tab would drop the waiting messages: ask first
addEventListener('beforeunload', (e) => { if (outbox.length > 0) e.preventDefault() })
showStatus()
