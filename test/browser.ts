/** Debian's chromium for the page tests, driven by playwright-core: one fresh profile per test, removed after it. */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { chromium, type Page } from 'playwright-core'

const CHROMIUM = '/usr/bin/chromium'
// The network is closed here: without these flags chromium stalls on its own background traffic.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-proxy-server']

/** A reason to skip a page test on a machine without chromium (CI installs it, and never skips). */
export const skipWithoutChromium = !existsSync(CHROMIUM) && !process.env.CI ? `${CHROMIUM} is missing (apt-get install chromium); CI runs this test` : false

/** A page of a fresh headless chromium, with the page errors it throws; closed (and its profile removed) after the test. */
export async function openPage (t: TestContext, prefix: string): Promise<{ page: Page, errors: string[] }> {
  const profile = await mkdtemp(join(tmpdir(), prefix))
  const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS })
    .catch(async (err: unknown) => { await rm(profile, { recursive: true, force: true }); throw err })
  // one hook, in this order: the profile can only go once chromium has exited
  t.after(async () => { await browser.close(); await rm(profile, { recursive: true, force: true }) })
  const page = browser.pages()[0] ?? await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))
  return { page, errors }
}
