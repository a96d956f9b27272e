// One file, one source name per output directory. Ids are `source:line` with the path as given,
// so `q.txt` and `/home/me/q.txt` (or `../q.txt` from another directory) would be two sources and
// the whole job would be paid again. OUT/.gempipe-sources.json records each name's file (real
// path, device and inode); a file given under another spelling takes the name its records already
// have, so ids keep the spelling of the run that first wrote them (nothing on disk is rewritten).

import { readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { InputSource } from '../stages/read-inputs.js';
import { writeJsonAtomic } from './atomic.js';
import { SOURCES_FILE } from './layout.js';

/** A file as the system knows it, whatever path leads there. */
export interface FileIdentity {
  realpath: string;
  dev: string;
  ino: string;
}

export function identityOf(path: string): FileIdentity | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return { realpath: realpathSync.native(path), dev: String(st.dev), ino: String(st.ino) };
  } catch {
    return undefined;
  }
}

const sameFile = (a: FileIdentity | undefined, b: FileIdentity | undefined) => !!a && !!b && (a.realpath === b.realpath || (a.dev === b.dev && a.ino === b.ino));

/** The directory's recorded names (none yet: an empty map). */
export function readSourceNames(dir: string): Map<string, FileIdentity> {
  try {
    const j = JSON.parse(readFileSync(join(dir, SOURCES_FILE), 'utf8')) as { sources?: Record<string, FileIdentity> };
    return new Map(Object.entries(j.sources ?? {}));
  } catch {
    return new Map();
  }
}

export interface NamedSources {
  sources: InputSource[];
  /** Inputs given by another spelling than the directory's: `given` now reads as `as`. */
  renamed: Array<{ given: string; as: string; by: 'real path' | 'device and inode' }>;
  /** What the directory should record now. */
  names: Map<string, FileIdentity>;
}

/**
 * Names the run's sources as the directory knows their files. `recorded`: the directory's names;
 * `written`: source names its records use (names recorded by no earlier run are looked up from
 * here, so a directory written before this file existed is matched too). The same file given
 * twice in one run is a UsageError naming both spellings.
 */
export function nameSources(sources: readonly InputSource[], recorded: ReadonlyMap<string, FileIdentity>, written: readonly string[] = []): NamedSources {
  const names = new Map(recorded);
  const inode = (id: FileIdentity) => `${id.dev}:${id.ino}`;
  const writtenNames = new Set(written);
  // Unrecorded names (records written before this file existed) are looked up where they lead from here.
  const own = (name: string) => recorded.get(name) ?? identityOf(name);
  // The directory's names by real path and by inode, made when a source first needs them.
  let byPath: Map<string, string> | undefined;
  let byInode: Map<string, string> | undefined;
  const index = () => {
    byPath = new Map();
    byInode = new Map();
    for (const name of new Set([...recorded.keys(), ...written])) {
      const id = name === 'stdin' ? undefined : own(name);
      if (!id) continue;
      if (!byPath.has(id.realpath)) byPath.set(id.realpath, name);
      if (!byInode.has(inode(id))) byInode.set(inode(id), name);
    }
  };
  const out: InputSource[] = [];
  const renamed: NamedSources['renamed'] = [];
  const given = new Map<string, string>(); // this run: real path and inode -> the spelling that gave it
  const used = new Set<string>();
  for (const src of sources) {
    const id = src.path === null ? undefined : identityOf(src.path);
    if (!id) {
      out.push(src); // stdin, or unreadable: the reader says so
      continue;
    }
    const spelled = src.path ?? src.source;
    const twice = given.get(id.realpath) ?? given.get(inode(id));
    if (twice !== undefined) throw new UsageError(`${twice} and ${spelled} are the same file (${id.realpath}), given twice: give it once`);
    given.set(id.realpath, spelled);
    given.set(inode(id), spelled);
    let name = src.source;
    // The name is this file's when the directory says so, or has records under it and says nothing.
    const ownName = recorded.has(name) ? sameFile(recorded.get(name), id) : writtenNames.has(name);
    if (!ownName) {
      if (!byPath) index();
      const viaPath = byPath!.get(id.realpath);
      const other = viaPath ?? byInode!.get(inode(id));
      if (other !== undefined && other !== name && !used.has(other)) {
        renamed.push({ given: spelled, as: other, by: viaPath !== undefined ? 'real path' : 'device and inode' });
        name = other;
      }
    }
    used.add(name);
    names.set(name, id);
    out.push(name === src.source ? src : { ...src, source: name });
  }
  return { sources: out, renamed, names };
}

/** Records the names (atomically; a start-up write of the run). */
export function saveSourceNames(dir: string, names: ReadonlyMap<string, FileIdentity>): void {
  writeJsonAtomic(join(dir, SOURCES_FILE), { savedAt: new Date().toISOString(), sources: Object.fromEntries(names) });
}

/** What a run says about its renamed inputs: each of the first three, then how many more. */
export function describeRenamed(out: string, renamed: NamedSources['renamed']): string | undefined {
  if (renamed.length === 0) return undefined;
  const few = renamed.slice(0, 3).map((r) => `${r.given} as ${r.as}`).join(', ');
  return `gempipe: ${renamed.length} input(s) are files ${out}/ knows by another name (the same ${renamed[0].by}): ${few}${renamed.length > 3 ? ', …' : ''}; their records keep those names, so nothing is asked again`;
}

/**
 * A run's sources named as `out` knows their files (none: `-o -`, where only a file given twice is
 * refused); `save()` records the names, a start-up write of the run (not for --dry-run).
 */
export function nameRunSources(o: { out: string; overwrite?: boolean }, sources: readonly InputSource[], state: { succeeded: { sources(): string[] }; failed: { sources(): string[] } } | undefined, say: (line: string) => void): { sources: InputSource[]; save: () => void } {
  if (!state) return { sources: nameSources(sources, new Map()).sources, save: () => {} };
  // --overwrite starts afresh: the names of the records it deletes do not count.
  const named = o.overwrite ? nameSources(sources, new Map()) : nameSources(sources, readSourceNames(o.out), [...state.succeeded.sources(), ...state.failed.sources()]);
  const note = describeRenamed(o.out, named.renamed);
  if (note) say(note);
  return { sources: named.sources, save: () => saveSourceNames(o.out, named.names) };
}
