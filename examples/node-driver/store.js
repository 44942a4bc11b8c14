'use strict';
// The storage semantics (the StorageDriver contract) on a local directory tree.
//
// - A store path /a/b is the file <root>/a/b. Directories exist only through the files below them: empty parents
//   are pruned after delete and move, and a directory holding nothing visible is reported as missing.
// - put_content writes a temporary file in the target directory and renames it over the target (atomic for
//   readers). Temporary names contain "~", a character no valid path component has, so list, stat and walk never
//   show them (they only show names that are valid path components).
// - Symbolic links are never followed: every component is checked with lstat, files are opened with O_NOFOLLOW,
//   and anything that is neither a regular file nor a directory is invisible (or a conflict when writing).
// - mod_time moves strictly forward when a file is overwritten, even within one tick of the kernel clock.

const fs = require('node:fs');
const fsp = require('node:fs/promises');
const nodePath = require('node:path');
const crypto = require('node:crypto');

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
const COMPONENT = /^[A-Za-z0-9._-]+$/;
const MAX_COMPONENT = 255;

/** An error the protocol layer turns into a JSON-RPC error: code, message and data fields. */
class DriverError extends Error {
  constructor(code, type, message, fields = {}) {
    super(message);
    this.code = code;
    this.type = type;
    this.fields = fields;
  }
}

const pyRepr = (value) => (typeof value === 'string' ? `'${value}'` : JSON.stringify(value));
const notFound = (path) => new DriverError(1001, 'PathNotFoundError', `path not found: ${path}`, { path });
const invalidPath = (path, reason) =>
  new DriverError(1002, 'InvalidPathError', `invalid path ${pyRepr(path)}: ${reason}`, { path, reason });
const invalidOffset = (path, offset) =>
  new DriverError(1003, 'InvalidOffsetError', `invalid offset ${pyRepr(offset)} for path ${path}`, { path, offset });
const conflict = (path, reason) => new DriverError(1004, 'PathConflictError', `${reason}: ${path}`, { path, reason });
const backend = (what, path, err) =>
  new DriverError(1000, 'StorageDriverError', `${what} ${path} failed: ${err.code || err.message}`);

/** The path rules of registry_storage/paths.py; throws 1002. `allowRoot` admits "/" (stat, list, walk). */
function checkPath(path, allowRoot = false) {
  if (typeof path !== 'string') {
    const kind = path === null ? 'NoneType' : Array.isArray(path) ? 'list' : typeof path;
    throw invalidPath(path, `a path must be a string, not ${kind}`);
  }
  if (path === '/') {
    if (allowRoot) return path;
    throw invalidPath(path, 'the root is not a file');
  }
  if (!path.startsWith('/')) throw invalidPath(path, "a path must start with '/'");
  for (const component of path.slice(1).split('/')) {
    if (!component) throw invalidPath(path, 'empty path component (double or trailing slash)');
    if (component === '.' || component === '..') throw invalidPath(path, `component '${component}' is not allowed`);
    if (component.length > MAX_COMPONENT) throw invalidPath(path, `component longer than ${MAX_COMPONENT} characters`);
    if (!COMPONENT.test(component)) {
      throw invalidPath(path, "components may hold only A-Z, a-z, 0-9, '.', '_' and '-'");
    }
  }
  return path;
}

/** Offsets are non-negative integers (booleans are not integers); throws 1003. */
function checkOffset(path, offset) {
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw invalidOffset(path, offset);
  return offset;
}

const isVisibleName = (name) => name !== '.' && name !== '..' && name.length <= MAX_COMPONENT && COMPONENT.test(name);
const join = (dir, name) => (dir === '/' ? `/${name}` : `${dir}/${name}`);
const parentOf = (path) => path.slice(0, path.lastIndexOf('/')) || '/';

/** RFC 3339 UTC with all nine fractional digits, from a bigint of nanoseconds since the epoch. */
function rfc3339(ns) {
  const seconds = ns / 1000000000n;
  const frac = (ns % 1000000000n).toString().padStart(9, '0');
  return new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, `.${frac}Z`);
}

async function lstatOrNull(abs) {
  try {
    return await fsp.lstat(abs, { bigint: true });
  } catch (err) {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
    throw err;
  }
}

class Store {
  constructor(root) {
    this.root = nodePath.resolve(root);
    this.tmpCounter = 0;
  }

  /** Create the root directory if needed (at startup); the root itself may be a link to a directory. */
  init() {
    let current = '';
    for (const part of this.root.split('/').filter(Boolean)) {
      current += '/' + part;
      try {
        fs.mkdirSync(current); // one level at a time: a recursive mkdir can spin on odd filesystems
      } catch (err) {
        if (err.code !== 'EEXIST') throw err;
      }
    }
    this.root = fs.realpathSync(this.root);
    if (!fs.statSync(this.root).isDirectory()) throw new Error('not a directory');
  }

  abs(path) {
    return path === '/' ? this.root : this.root + path;
  }

  /**
   * Look at `path` without following links: {kind, st, blocker}. kind is 'file', 'dir', 'other' (a link or a
   * special file), 'missing', or 'blocked' (an ancestor is not a directory; `blocker` names it).
   */
  async inspect(path) {
    if (path === '/') return { kind: 'dir', st: await fsp.lstat(this.root, { bigint: true }) };
    const parts = path.slice(1).split('/');
    let current = '';
    for (let i = 0; i < parts.length; i++) {
      current += '/' + parts[i];
      const st = await lstatOrNull(this.abs(current));
      if (st === null) return { kind: 'missing' };
      const last = i === parts.length - 1;
      if (last) return { kind: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other', st };
      if (!st.isDirectory()) return { kind: 'blocked', blocker: current, blockerKind: st.isFile() ? 'file' : 'other' };
    }
    return { kind: 'missing' };
  }

  /** True when the directory holds at least one visible file, at any depth. */
  async hasVisible(absDir) {
    let entries;
    try {
      entries = await fsp.readdir(absDir, { withFileTypes: true });
    } catch (err) {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return false;
      throw err;
    }
    for (const e of entries) if (isVisibleName(e.name) && e.isFile()) return true;
    for (const e of entries) {
      if (isVisibleName(e.name) && e.isDirectory() && (await this.hasVisible(nodePath.join(absDir, e.name)))) {
        return true;
      }
    }
    return false;
  }

  /** A file or a directory with something visible below it; anything else is reported as missing (1001). */
  async existing(path) {
    const found = await this.inspect(path);
    if (found.kind === 'file') return found;
    if (found.kind === 'dir' && (path === '/' || (await this.hasVisible(this.abs(path))))) return found;
    return { kind: 'missing' };
  }

  /** Throw 1004 unless a file may be written at `path` (not a directory, no ancestor that is a file). */
  async checkWritable(path) {
    const found = await this.inspect(path);
    if (found.kind === 'dir') throw conflict(path, 'a directory is where a file is needed');
    if (found.kind === 'other') throw conflict(path, 'not a regular file');
    if (found.kind === 'blocked') {
      throw conflict(found.blocker, found.blockerKind === 'file'
        ? 'a file is where a directory is needed' : 'not a directory');
    }
    return found;
  }

  /**
   * Create the parents of `path` one level at a time, never through a link; an ancestor that is not a directory
   * (a race after checkWritable) is a conflict. ENOENT means a concurrent prune removed a level: the caller retries.
   */
  async makeParents(path) {
    let current = '';
    for (const part of parentOf(path).split('/').filter(Boolean)) {
      current += '/' + part;
      try {
        await fsp.mkdir(this.abs(current));
      } catch (err) {
        if (err.code !== 'EEXIST') throw err;
        const st = await lstatOrNull(this.abs(current));
        if (st === null) throw err;
        if (st.isDirectory()) continue;
        throw conflict(current, st.isFile() ? 'a file is where a directory is needed' : 'not a directory');
      }
    }
  }

  /** Run `fn` after creating the parents of `path`, again if a concurrent prune removed them meanwhile. */
  async withParents(path, fn) {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.makeParents(path);
        return await fn();
      } catch (err) {
        if (err.code !== 'ENOENT' || attempt >= 10) throw err;
      }
    }
  }

  /** Remove the empty directories above `path`, nearest first, never the root. */
  async prune(path) {
    for (let dir = parentOf(path); dir !== '/'; dir = parentOf(dir)) {
      try {
        await fsp.rmdir(this.abs(dir));
      } catch {
        return; // not empty (or already gone): the directories above are not empty either
      }
    }
  }

  /** Make the mtime of the open file `fd` later than `previousNs` (in whole microseconds, what readers keep). */
  async moveTimeForward(fd, previousNs) {
    if (previousNs === null) return;
    for (let bump = 2n; bump < 1000n; bump *= 2n) {
      const st = await fd.stat({ bigint: true });
      if (st.mtimeNs / 1000n > previousNs / 1000n) return;
      const targetUs = previousNs / 1000n + bump;
      const seconds = Number(targetUs) / 1e6; // futimes takes seconds as a double; re-checked by the loop
      await fd.utimes(Number(st.atimeNs / 1000n) / 1e6, seconds);
    }
  }

  // -- the methods ------------------------------------------------------------------------------------------

  async stat(path) {
    checkPath(path, true);
    const found = await this.existing(path);
    if (found.kind === 'missing') throw notFound(path);
    const isDir = found.kind === 'dir';
    return { path, size: isDir ? 0 : Number(found.st.size), mod_time: rfc3339(found.st.mtimeNs), is_dir: isDir };
  }

  async list(path) {
    checkPath(path, true);
    const found = await this.existing(path);
    if (found.kind !== 'dir') throw notFound(path);
    return (await this.children(path)).map((c) => c.path);
  }

  /** Visible children of a directory, sorted: [{path, name, isDir}]. */
  async children(path) {
    let entries;
    try {
      entries = await fsp.readdir(this.abs(path), { withFileTypes: true });
    } catch (err) {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
      throw err;
    }
    const result = [];
    for (const e of entries) {
      if (!isVisibleName(e.name)) continue;
      const child = join(path, e.name);
      if (e.isFile()) result.push({ path: child, isDir: false });
      else if (e.isDirectory() && (await this.hasVisible(this.abs(child)))) result.push({ path: child, isDir: true });
    }
    return result.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async walk(path) {
    checkPath(path, true);
    const found = await this.existing(path);
    if (found.kind !== 'dir') throw notFound(path);
    const entries = [];
    const visit = async (dir) => {
      for (const child of await this.children(dir)) {
        const st = await lstatOrNull(this.abs(child.path));
        if (st === null) continue; // removed while walking
        entries.push({ path: child.path, size: child.isDir ? 0 : Number(st.size), mod_time: rfc3339(st.mtimeNs),
          is_dir: child.isDir });
        if (child.isDir) await visit(child.path); // depth-first, parent before children
      }
    };
    await visit(path);
    return entries;
  }

  /** The whole content of a file; `maxBytes` bounds it (over it: `tooLarge(size)` is thrown). */
  async getContent(path, maxBytes, tooLarge) {
    checkPath(path);
    const fd = await this.openFile(path);
    try {
      const size = Number((await fd.stat({ bigint: true })).size);
      if (size > maxBytes) throw tooLarge(size);
      const buffer = Buffer.allocUnsafe(size);
      let filled = 0;
      while (filled < size) {
        const { bytesRead } = await fd.read(buffer, filled, size - filled, filled);
        if (bytesRead === 0) break; // shrank meanwhile (only a stream write does that)
        filled += bytesRead;
      }
      return buffer.subarray(0, filled);
    } finally {
      await fd.close();
    }
  }

  /** Open an existing regular file for reading, without following links; 1001 for anything else. */
  async openFile(path) {
    const found = await this.inspect(path);
    if (found.kind !== 'file') throw notFound(path);
    try {
      const fd = await fsp.open(this.abs(path), O_RDONLY | O_NOFOLLOW);
      if (!(await fd.stat()).isFile()) {
        await fd.close();
        throw notFound(path);
      }
      return fd;
    } catch (err) {
      if (err instanceof DriverError) throw err;
      if (['ENOENT', 'ENOTDIR', 'ELOOP', 'EISDIR'].includes(err.code)) throw notFound(path);
      throw backend('open', path, err);
    }
  }

  async putContent(path, content) {
    checkPath(path);
    const before = await this.checkWritable(path);
    const previous = before.kind === 'file' ? before.st.mtimeNs : null;
    const tmpAbs = () => `${this.abs(parentOf(path))}/.~nodefs-${process.pid}-${++this.tmpCounter}-` +
      `${crypto.randomBytes(4).toString('hex')}.tmp`;
    await this.withParents(path, async () => {
      const tmp = tmpAbs();
      const fd = await fsp.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
      try {
        try {
          await fd.writeFile(content);
          await this.moveTimeForward(fd, previous);
        } finally {
          await fd.close();
        }
        await fsp.rename(tmp, this.abs(path)); // atomic: readers see the old or the new content
      } catch (err) {
        await fsp.unlink(tmp).catch(() => {});
        if (err.code === 'EISDIR' || err.code === 'ENOTDIR') {
          throw conflict(path, 'a directory is where a file is needed');
        }
        throw err;
      }
    });
  }

  async move(source, destination) {
    checkPath(source);
    checkPath(destination);
    // Every check before anything changes.
    const src = await this.inspect(source);
    if (src.kind === 'dir') throw conflict(source, 'a directory is where a file is needed');
    if (src.kind !== 'file') throw notFound(source);
    await this.checkWritable(destination);
    if (source === destination) return;
    await this.withParents(destination, async () => {
      try {
        await fsp.rename(this.abs(source), this.abs(destination));
      } catch (err) {
        if (err.code === 'ENOENT' && (await lstatOrNull(this.abs(source))) === null) throw notFound(source);
        if (err.code === 'EISDIR' || err.code === 'ENOTEMPTY' || err.code === 'EEXIST') {
          throw conflict(destination, 'a directory is where a file is needed');
        }
        throw err;
      }
    });
    await this.prune(source);
  }

  async delete(path) {
    checkPath(path);
    const found = await this.existing(path);
    if (found.kind === 'missing') throw notFound(path);
    if (found.kind === 'file') await fsp.unlink(this.abs(path));
    else await fsp.rm(this.abs(path), { recursive: true, force: true }); // removes links, never follows them
    await this.prune(path);
  }

  /** Open a read stream's file: {fd, position}. */
  async openRead(path, offset) {
    checkPath(path);
    checkOffset(path, offset);
    return { fd: await this.openFile(path), position: offset };
  }

  /**
   * Open a write stream: the file is cut or zero-extended to `offset` at once, then chunks are written in place
   * after it. An interrupted stream therefore leaves exactly base + a prefix, and stat tells its size.
   */
  async openWrite(path, offset) {
    checkPath(path);
    checkOffset(path, offset);
    const before = await this.checkWritable(path);
    const fd = await this.withParents(path, () => fsp.open(this.abs(path), O_WRONLY | O_CREAT | O_NOFOLLOW, 0o644))
      .catch((err) => {
        if (err instanceof DriverError) throw err;
        if (['EISDIR', 'ELOOP', 'ENOTDIR'].includes(err.code)) throw conflict(path, 'not a regular file');
        throw backend('open', path, err);
      });
    try {
      await fd.truncate(offset);
    } catch (err) {
      await fd.close();
      throw backend('truncate', path, err);
    }
    return { fd, position: offset, previous: before.kind === 'file' ? before.st.mtimeNs : null };
  }
}

module.exports = { Store, DriverError, checkPath, checkOffset, backend, rfc3339 };
