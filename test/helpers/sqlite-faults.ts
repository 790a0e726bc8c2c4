/**
 * A write fault injected into a running store from outside (a second connection to its
 * database): a trigger that makes every matching INSERT into a table fail, as a disk error in
 * the middle of a transaction would. The store's own connection sees the schema change at its
 * next statement. Remove it with the returned function.
 */
import Database from 'better-sqlite3';
import path from 'node:path';

export function failInserts(storeDir: string, table: 'queue' | 'messages', when = '1'): () => void {
  const db = new Database(path.join(storeDir, 'buudien.db'));
  db.pragma('busy_timeout = 5000');
  const name = `test_fault_${table}`;
  db.exec(`CREATE TRIGGER ${name} BEFORE INSERT ON ${table} WHEN ${when} BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END`);
  return () => {
    db.exec(`DROP TRIGGER IF EXISTS ${name}`);
    db.close();
  };
}
