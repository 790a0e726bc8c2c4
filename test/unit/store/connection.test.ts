/**
 * store/sqlite/connection.ts: a connection hands out one Statement per SQL text (none is ever
 * left for the garbage collector, which aborts Node 24.19+ with better-sqlite3 12), and its
 * pragma() behaves as better-sqlite3's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/store/sqlite/connection.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'buudien-conn-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('openDatabase', () => {
  it('gives the same statement for the same SQL, a new one for other SQL', () => {
    const db = openDatabase(path.join(dir, 'a.db'));
    db.exec('CREATE TABLE t (a INTEGER)');
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    for (let i = 0; i < 100; i++) expect(db.prepare('INSERT INTO t VALUES (?)')).toBe(insert);
    for (let i = 0; i < 100; i++) db.prepare('INSERT INTO t VALUES (?)').run(i);
    expect(db.prepare('SELECT count(*) AS n FROM t')).not.toBe(insert);
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 100 });
    db.close();
  });

  it('pragma: rows, simple values, statements without rows, and its own statements', () => {
    const db = openDatabase(path.join(dir, 'b.db'));
    expect(db.pragma('journal_mode = WAL')).toEqual([{ journal_mode: 'wal' }]);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    // Asked for simple and then not: the reused statement is not left plucked.
    expect(db.pragma('journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    expect(db.pragma('synchronous = NORMAL')).toEqual([]);
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    const checkpoint = db.pragma('wal_checkpoint(PASSIVE)') as Array<Record<string, number>>;
    expect(Object.keys(checkpoint[0] ?? {})).toEqual(['busy', 'log', 'checkpointed']);
    // prepare('PRAGMA …') is its own statement: a pluck() on it does not change pragma().
    const version = db.prepare('PRAGMA data_version').pluck();
    expect(typeof version.get()).toBe('number');
    expect(db.pragma('data_version')).toEqual([{ data_version: version.get() }]);
    expect(typeof version.get()).toBe('number');
    db.close();
  });

  it('transactions work on a connection opened here', () => {
    const db = openDatabase(path.join(dir, 'c.db'));
    db.exec('CREATE TABLE t (a INTEGER)');
    const add = db.transaction((n: number) => {
      for (let i = 0; i < n; i++) db.prepare('INSERT INTO t VALUES (?)').run(i);
    });
    add.immediate(5);
    expect(() =>
      db.transaction(() => {
        db.prepare('INSERT INTO t VALUES (?)').run(99);
        throw new Error('undo');
      })(),
    ).toThrow('undo');
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 5 });
    db.close();
  });
});
