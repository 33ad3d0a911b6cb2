/**
 * `sd generate deploy`: the files to run the app in containers and under systemd, rendered from
 * `templates/deploy/` with the app's own ports, name and shutdown timeout: a multi-stage
 * Dockerfile (+ .dockerignore), a compose cluster (Redis, two dispatch servers, two servers,
 * MariaDB behind the `mysql` profile) whose secrets are files, and systemd units.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { transportEntries } from '../transport/registry.js'
import { transportPorts, type Config } from '../server/config.js'
import { renderTemplate } from './render.js'
import { frameworkPackage, type PlannedFile } from './generate.js'

const frameworkRoot = fileURLToPath(new URL('../../', import.meta.url))

/** Where the files go, relative to the app root. */
export const deployDir = 'deploy'

/** One client port of the app: its transport key, the env variable that sets it, the number. */
export interface DeployPort {
  key: string
  env: string
  port: number
}

/** What the deploy templates see. */
export interface DeployData {
  /** The app's name made safe for images, units and compose (`sd-chat`). */
  name: string
  /** The `sd` executable, relative to the app root (the framework's `bin/sd.js`). */
  sdBin: string
  /** Folders the runtime image needs besides node_modules, dist and config (the demo's framework sources). */
  extraDirs: string[]
  ports: DeployPort[]
  /** The HTTP port, for the health check (else the first port is probed with a TCP connect). */
  httpPort: number | undefined
  dispatchPort: number
  adminPort: number
  /** systemd's TimeoutStopSec: the primary's own stop timeout plus a margin. */
  stopTimeoutSec: number
}

/** `Sd Chat_App` → `sd-chat-app`: letters, digits and `-` (image, unit and volume names). */
export function deployName (name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '')
  return slug === '' ? 'sd-app' : slug
}

/** The `sd` bin and extra runtime folders: the framework repository runs its own bin. */
function sdLayout (root: string): { sdBin: string, extraDirs: string[], fileDependency: boolean } {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: string, dependencies?: Record<string, string> }
  if (pkg.name === frameworkPackage && relative(frameworkRoot, root) === '') {
    return { sdBin: 'bin/sd.js', extraDirs: ['bin', 'framework', 'templates'], fileDependency: false }
  }
  const ref = pkg.dependencies?.[frameworkPackage] ?? ''
  return { sdBin: `node_modules/${frameworkPackage}/bin/sd.js`, extraDirs: [], fileDependency: ref.startsWith('file:') }
}

/** The template data of the app at `root` with `config`. */
export function deployData (root: string, config: Config): DeployData & { fileDependency: boolean } {
  const envOf = new Map(transportEntries().map((e) => [e.key, e.envPort]))
  const ports = transportPorts(config)
    .filter(([key, o]) => envOf.has(key) && o.port > 0)
    .map(([key, o]) => ({ key, env: envOf.get(key) as string, port: o.port }))
  const layout = sdLayout(root)
  return {
    name: deployName(config.app.name),
    ...layout,
    ports,
    httpPort: ports.find((p) => p.key === 'http')?.port,
    dispatchPort: config.cluster.dispatchPort,
    adminPort: config.admin.port,
    stopTimeoutSec: Math.ceil((config.server.shutdownTimeoutMs + 5000) / 1000) + 5,
  }
}

/** A random secret for a secret file (hex, one line). */
function secret (): string {
  return randomBytes(32).toString('hex') + '\n'
}

/**
 * Every file `sd generate deploy` writes, paths absolute. The secret files get fresh random
 * values (and a .gitignore keeping them out of the repository).
 */
export function planDeploy (root: string, config: Config): PlannedFile[] {
  const data = deployData(root, config)
  const dir = join(root, deployDir)
  const t = (name: string): string => renderTemplate(`deploy/${name}.eta`, data)
  const mysqlPassword = randomBytes(18).toString('hex')
  return [
    { path: join(dir, 'Dockerfile'), content: t('Dockerfile') },
    { path: join(root, '.dockerignore'), content: t('dockerignore') },
    { path: join(dir, 'compose.yaml'), content: t('compose.yaml') },
    { path: join(dir, 'env.example'), content: t('env.example') },
    { path: join(dir, 'secrets/.gitignore'), content: '*\n!.gitignore\n' },
    { path: join(dir, 'secrets/cluster_secret'), content: secret() },
    { path: join(dir, 'secrets/admin_token'), content: secret() },
    { path: join(dir, 'secrets/mysql_password'), content: `${mysqlPassword}\n` },
    { path: join(dir, 'secrets/mysql_url'), content: `mysql://sd:${mysqlPassword}@mariadb:3306/sd\n` },
    { path: join(dir, `systemd/${data.name}@.service`), content: t('server.service') },
    { path: join(dir, `systemd/${data.name}-dispatch@.service`), content: t('dispatch.service') },
    { path: join(dir, `systemd/${data.name}.env`), content: t('systemd.env') },
  ]
}

/** What to tell the user after writing: the next steps, and what would break the image build. */
export function deployNotes (root: string, config: Config): string[] {
  const data = deployData(root, config)
  const notes = [
    'Build and run the cluster:  docker compose -f deploy/compose.yaml up --build   (podman-compose works too)',
    'With MariaDB:  COMPOSE_PROFILES=mysql MYSQL_URL_FILE=/run/secrets/mysql_url docker compose -f deploy/compose.yaml up --build',
    `systemd: see the header of deploy/systemd/${data.name}@.service (docs/deploy.md).`,
  ]
  if (data.fileDependency) {
    notes.push(`Note: package.json depends on ${frameworkPackage} through a file: path, which the image build cannot reach; depend on a published version or a packed tarball (npm pack) inside the app folder.`)
  }
  return notes
}
