/**
 * Every SQLite connection of the store is opened here (openDatabase), never with `new Database`.
 *
 * better-sqlite3 12 builds its Database and Statement objects on node::ObjectWrap. From Node
 * 24.19 on, that class's destructor removes an environment cleanup hook and asserts that a
 * Node environment is current; when V8 collects such an object from an idle-time GC (no context
 * entered) the assertion fails and the whole process aborts (nodejs/node#65446). The Docker image
 * runs Node 24, where a loop preparing statements aborts within seconds. So none of these
 * objects may ever be garbage-collected:
 * - a connection keeps one Statement per SQL text (prepare and pragma give the same one again,
 *   so statements are made once, not per call), and
 * - every connection object stays referenced for the life of the process (close() releases
 *   SQLite's handle and its statements' memory; the small wrappers stay).
 * Opening is rare (the server opens a handful of connections; backups and checks a few more).
 */
import Database from 'better-sqlite3';

const kept = new Set<Database.Database>();

type Stmt = Database.Statement<unknown[], unknown>;

export function openDatabase(file: string, options?: Database.Options): Database.Database {
  const db = new Database(file, options);
  kept.add(db);
  const statements = new Map<string, Stmt>();
  const pragmas = new Map<string, Stmt>();
  const prepare = db.prepare.bind(db) as (sql: string) => Stmt;
  const once = (cache: Map<string, Stmt>, sql: string): Stmt => {
    let s = cache.get(sql);
    if (!s) {
      s = prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
  Object.defineProperty(db, 'prepare', { value: (sql: string) => once(statements, sql) });
  // better-sqlite3's pragma() prepares a new statement on every call; this one reuses its own
  // (apart from prepare's: pluck() changes a statement, and a pragma sets it each time).
  Object.defineProperty(db, 'pragma', {
    value: (source: string, opts?: { simple?: boolean }): unknown => {
      const s = once(pragmas, `PRAGMA ${source}`);
      if (!s.reader) {
        s.run();
        return opts?.simple ? undefined : [];
      }
      return opts?.simple ? s.pluck(true).get() : s.pluck(false).all();
    },
  });
  return db;
}
