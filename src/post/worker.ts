// The worker-thread side of --post (piscina runs this file): imports the user's module once per
// thread and calls its function on one success record. What the function returns travels back
// by structured clone; a throw rejects the task (the post stage makes it a POST_FAILED record).

type PostFn = (record: Record<string, unknown>) => unknown;

const loaded = new Map<string, Promise<PostFn>>();

/** Imports `url` and finds `exportName` (or the default export, or the only function export). */
export async function loadPostFunction(url: string, exportName?: string): Promise<PostFn> {
  const mod = (await import(url)) as Record<string, unknown>;
  if (exportName) {
    const fn = mod[exportName];
    if (typeof fn !== 'function') throw new Error(`it has no exported function \`${exportName}\` (exports: ${Object.keys(mod).join(', ') || 'none'})`);
    return fn as PostFn;
  }
  if (typeof mod.default === 'function') return mod.default as PostFn;
  const fns = Object.entries(mod).filter(([, v]) => typeof v === 'function');
  if (fns.length === 1) return fns[0][1] as PostFn;
  throw new Error(`it has no default export function; name one as MODULE:export (exports: ${Object.keys(mod).join(', ') || 'none'})`);
}

export default async function post(task: { url: string; exportName?: string; record: Record<string, unknown> }): Promise<unknown> {
  const key = `${task.url}#${task.exportName ?? ''}`;
  let fn = loaded.get(key);
  if (!fn) {
    fn = loadPostFunction(task.url, task.exportName);
    loaded.set(key, fn);
  }
  return (await fn)(task.record);
}
