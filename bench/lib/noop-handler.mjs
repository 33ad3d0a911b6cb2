// Middle side of bench/task.ts: bare piscina with this handler, which returns the call's first
// argument (what a no-op task returns) without SD's runtime in the worker.
export default function noop (call) {
  return call.args[0]
}
